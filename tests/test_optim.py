"""tinygrad_edu.optim: SGD and Adam against PyTorch's update formulas, computed by hand."""

from __future__ import annotations

import importlib
import math
from typing import Any, cast

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from test_fast import mutant  # tests/ is on sys.path (pytest)

from tinygrad_edu import Value
from tinygrad_edu.changes import HANDED_OUT, UNREAD
from tinygrad_edu.data import Array
from tinygrad_edu.nn import MLP, mse_loss
from tinygrad_edu.optim import SGD, Adam, Optimizer

rates = st.floats(0.001, 1.0)
fractions = st.floats(0.0, 0.99)
small = st.floats(-3, 3)


def test_sgd_plain_step_by_hand() -> None:
    w, b = Value([1.0, -2.0]), Value(0.5)
    w.grad = [0.5, 1.0]
    b.grad = -2.0
    SGD([w, b], lr=0.1).step()
    np.testing.assert_allclose(w.data, [0.95, -2.1])
    assert b.data == pytest.approx(0.7) and isinstance(b.data, float)


def test_sgd_momentum_and_weight_decay_by_hand() -> None:
    """PyTorch: g = grad + wd·p; b = g at step 1, then b = μ·b + g; p = p − lr·b."""
    p = Value(1.0)
    opt = SGD([p], lr=0.1, momentum=0.9, weight_decay=0.01)
    p.grad = 2.0
    opt.step()  # g = 2 + 0.01 = 2.01; b = 2.01; p = 1 − 0.201 = 0.799
    assert p.data == pytest.approx(0.799, abs=1e-15)
    p.grad = -1.0
    # g = −1 + 0.00799 = −0.99201; b = 0.9·2.01 − 0.99201 = 0.81699; p = 0.799 − 0.081699
    opt.step()
    assert p.data == pytest.approx(0.799 - 0.1 * (0.9 * 2.01 + (-1.0 + 0.01 * 0.799)), abs=1e-15)
    assert p.data == pytest.approx(0.717301, abs=1e-12)


def test_sgd_momentum_leaves_the_gradient_alone() -> None:
    """The momentum buffer starts as a copy of the first gradient: updated in place at the
    next step, it must not be `p.grad` itself, which the learner may still read."""
    p = Value([1.0, 2.0])
    opt = SGD([p], lr=0.1, momentum=0.9)
    (p * p).sum().backward()
    g = cast(Array, p.grad).copy()
    opt.step()
    opt.step()  # b = g, then b = 0.9·g + g
    np.testing.assert_array_equal(p.grad, g)
    np.testing.assert_allclose(p.data, np.array([1.0, 2.0]) - 0.1 * g - 0.1 * 1.9 * g)


@given(data=st.data(), lr=rates, momentum=fractions, weight_decay=st.floats(0.0, 0.1),
       steps=st.integers(1, 5))
@settings(max_examples=20)
def test_sgd_follows_the_formula_over_several_steps(
    data: st.DataObject, lr: float, momentum: float, weight_decay: float, steps: int
) -> None:
    shape = data.draw(st.sampled_from([(), (3,), (2, 2)]))
    start = data.draw(hnp.arrays(np.float64, shape, elements=small))
    grads = [data.draw(hnp.arrays(np.float64, shape, elements=small)) for _ in range(steps)]
    p = Value(start.copy() if shape else float(start))
    opt = SGD([p], lr=lr, momentum=momentum, weight_decay=weight_decay)
    expected, buffer = np.array(start, dtype=float), None
    for g in grads:
        p.grad = g if shape else float(g)
        opt.step()
        d = g + weight_decay * expected
        if momentum:
            buffer = d if buffer is None else momentum * buffer + d
            d = buffer
        expected = expected - lr * d
    np.testing.assert_array_equal(p.data, expected)  # (the same operations, in the same order)


STATES = ["unread", "read", "handed out", "sealed view"]


def _parameter(start: Any, grad: Any, state: str) -> tuple[Value, Value | None]:
    """A parameter in one of `STATES`, and a graph recorded before the step that reads it
    (None for an unread one)."""
    if state == "sealed view":  # a view of an array a graph has sealed: replaced, not written
        owner = Value(start.copy())
        (Value(np.ones(start.shape)) * owner).sum()
        p = owner.reshape(start.shape).detach()
    else:
        p = Value(start.copy())
    graph = None
    if state != "unread":
        graph = (Value(np.ones(start.shape)) * p).sum()  # (mul's rule reads p)
    if state == "handed out":
        _ = p.data  # (the getter hands the array out, keeping a copy to compare)
    p.grad = grad.copy()
    return p, graph


@pytest.mark.parametrize("state", STATES)
@given(data=st.data(), lr=rates)
@settings(max_examples=20)
def test_sgd_step_is_the_update_by_hand(state: str, data: st.DataObject, lr: float) -> None:
    """SGD's step on an array (`_subtract`, which skips the getter's copy) does what
    ``p.data -= lr * p.grad`` does (``p.data = p.data - ...`` for a view that cannot be
    written): the same bits (nan, inf and -0.0 too), in place, the same flags left, the same
    changes stamped, so that a graph recorded before refuses backward() after either."""
    shape = data.draw(st.sampled_from([(3,), (2, 2)]))
    numbers = st.floats(allow_nan=True, allow_infinity=True)
    start = data.draw(hnp.arrays(np.float64, shape, elements=numbers))
    grad = data.draw(hnp.arrays(np.float64, shape, elements=numbers))
    stepped, stepped_graph = _parameter(start, grad, state)
    by_hand, by_hand_graph = _parameter(start, grad, state)
    arrays = [id(stepped._data), id(by_hand._data)]  # (ids: a reference kept would be an
    # array held elsewhere, which an update leaves writeable, watched: `changes.viewed`)
    SGD([stepped], lr=lr).step()
    if state == "sealed view":
        by_hand.data = by_hand.data - lr * by_hand.grad
    else:
        by_hand.data -= lr * by_hand.grad
    for p, array in zip((stepped, by_hand), arrays, strict=True):
        assert (id(p._data) == array) == (state != "sealed view")
    a, b = np.asarray(stepped._data), np.asarray(by_hand._data)
    assert np.array_equal(a.view(np.int64), b.view(np.int64))
    # (left writeable: an unread array, and a new one; sealed again: an array read)
    assert a.flags.writeable == b.flags.writeable == (state in ("unread", "sealed view"))
    # (an unread array's change noted for pictures, below UNREAD: changes.unread_changed)
    unread = [getattr(p, "_changed", 0) < UNREAD for p in (stepped, by_hand)]
    assert unread == [state == "unread"] * 2
    # (no hand-out of either is pending: an entry left by a Value freed earlier whose id
    # came back is no hand-out of these, and the engine tells them apart by its weakref)
    for p in (stepped, by_hand):
        entry = HANDED_OUT.get(id(p))
        assert entry is None or entry[0]() is not p
    for graph in (stepped_graph, by_hand_graph):
        if graph is not None:
            with pytest.raises(RuntimeError, match="changed after the graph was recorded"):
                graph.backward()


SUBTRACT_MUTATIONS = {
    "not in place": ("data -= update", "data = data - update"),
    "a read array left writeable": ("set_writeable(p._data, False)", "pass"),
    "no change stamped": ("if not changed(p):", "if True:"),
    "no change of an unread array noted": ("unread_changed(p)", "pass"),
    "the test of a read array inverted": ("if is_read(p):", "if not is_read(p):"),
    "a sealed view left as it was": ("p.data = data - update", "pass"),
}


@pytest.mark.parametrize("name", sorted(SUBTRACT_MUTATIONS))
def test_subtract_mutants_are_caught(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each bug injected into `Optimizer._subtract` fails `test_sgd_step_is_the_update_by_hand`
    in some state."""
    subtract = mutant(Optimizer._subtract, *SUBTRACT_MUTATIONS[name])
    monkeypatch.setattr(Optimizer, "_subtract", subtract)
    failed = []
    for state in STATES:
        try:
            test_sgd_step_is_the_update_by_hand(state=state)
        except (AssertionError, pytest.fail.Exception, BaseExceptionGroup):
            failed.append(state)
    assert failed, f"the mutant {name!r} passed the test"


def test_adam_first_steps_by_hand() -> None:
    p = Value([1.0, 2.0])
    opt = Adam([p], lr=0.01)
    p.grad = [0.5, -4.0]
    opt.step()
    # step 1: m̂ = g, v̂ = g², so each parameter moves by lr·sign(g) (up to eps)
    np.testing.assert_allclose(p.data, [0.99, 2.01], rtol=1e-9)
    np.testing.assert_allclose(p.data, [1 - 0.01 * 0.5 / (0.5 + 1e-8), 2 + 0.01 * 4 / (4 + 1e-8)],
                               rtol=1e-15)
    after_first = cast(Array, p.data).copy()
    p.grad = [1.0, 0.0]
    opt.step()
    m = 0.9 * (0.1 * np.array([0.5, -4.0])) + 0.1 * np.array([1.0, 0.0])
    v = 0.999 * (0.001 * np.array([0.25, 16.0])) + 0.001 * np.array([1.0, 0.0])
    m_hat, v_hat = m / (1 - 0.9**2), v / (1 - 0.999**2)
    expected = after_first - 0.01 * m_hat / (np.sqrt(v_hat) + 1e-8)
    np.testing.assert_allclose(p.data, expected, rtol=1e-12)


@given(data=st.data(), lr=rates, beta1=fractions, beta2=st.floats(0.5, 0.9999),
       eps=st.sampled_from([1e-8, 1e-3]), weight_decay=st.sampled_from([0.0, 0.01]),
       steps=st.integers(1, 6))
@settings(max_examples=20)
def test_adam_follows_the_formula_over_several_steps(
    data: st.DataObject, lr: float, beta1: float, beta2: float, eps: float,
    weight_decay: float, steps: int
) -> None:
    shape = data.draw(st.sampled_from([(), (3,), (2, 2)]))
    start = data.draw(hnp.arrays(np.float64, shape, elements=small))
    grads = [data.draw(hnp.arrays(np.float64, shape, elements=small)) for _ in range(steps)]
    p = Value(start.copy() if shape else float(start))
    opt = Adam([p], lr=lr, betas=(beta1, beta2), eps=eps, weight_decay=weight_decay)
    expected = np.array(start, dtype=float)
    m, v = np.zeros(shape), np.zeros(shape)
    for t, g in enumerate(grads, start=1):
        p.grad = g if shape else float(g)
        opt.step()
        d = g + weight_decay * expected
        m = beta1 * m + (1 - beta1) * d
        v = beta2 * v + (1 - beta2) * d * d
        m_hat, v_hat = m / (1 - beta1**t), v / (1 - beta2**t)
        expected = expected - lr * m_hat / (np.sqrt(v_hat) + eps)
    np.testing.assert_allclose(p.data, expected, rtol=1e-9, atol=1e-12)
    assert opt.t == steps


TORCH_SETTINGS: dict[str, dict[str, Any]] = {
    "SGD": {"lr": 0.1, "momentum": 0.9, "weight_decay": 0.01},
    "Adam": {"lr": 0.1, "betas": (0.8, 0.99), "weight_decay": 0.01},
}


@pytest.mark.parametrize("name", sorted(TORCH_SETTINGS))
def test_several_parameters_are_stepped_as_torch_optim_steps_them(name: str) -> None:
    """The tests above step one parameter. With three, of three shapes, each keeps its own
    momentum buffer or moments, and Adam's step count t advances once a step, not once a
    parameter: torch.optim's numbers (float64) over four steps."""
    torch: Any = importlib.import_module("torch")
    rng = np.random.default_rng(0)
    starts = [rng.normal(size=shape) for shape in [(), (3,), (2, 2)]]
    ours = [Value(float(s) if s.ndim == 0 else s.copy()) for s in starts]
    theirs = [torch.tensor(s, requires_grad=True) for s in starts]
    optimizer = {"SGD": SGD, "Adam": Adam}[name](ours, **TORCH_SETTINGS[name])
    torch_optimizer = getattr(torch.optim, name)(theirs, **TORCH_SETTINGS[name])
    for _ in range(4):
        for p, t in zip(ours, theirs, strict=True):
            g = rng.normal(size=p.shape)
            p.grad = g if p.shape else float(g)
            t.grad = torch.tensor(g)
        optimizer.step()
        torch_optimizer.step()
    for p, t in zip(ours, theirs, strict=True):
        np.testing.assert_allclose(p.data, t.detach().numpy(), rtol=1e-12, atol=1e-15)
    if isinstance(optimizer, Adam):
        assert optimizer.t == 4


def test_tensor_parameters_are_updated_in_place() -> None:
    model = MLP(2, [3, 1], seed=0)
    arrays = [p.data for p in model.parameters()]
    loss = mse_loss(model(np.ones((4, 2))), np.zeros(4))
    loss.backward()
    SGD(model.parameters(), lr=0.1).step()
    assert all(p.data is a for p, a in zip(model.parameters(), arrays, strict=True))


def test_read_only_tensor_parameters_are_replaced() -> None:
    data = np.array([1.0, 2.0])
    data.flags.writeable = False
    p = Value(data)
    p.grad = [1.0, 1.0]
    SGD([p], lr=1.0).step()
    np.testing.assert_array_equal(p.data, [0.0, 1.0])


def test_gradients_recorded_with_create_graph_are_used_as_numbers() -> None:
    p = Value(3.0)
    (p * p).backward(create_graph=True)
    assert isinstance(p.grad, Value)
    SGD([p], lr=0.1).step()
    assert p.data == pytest.approx(3.0 - 0.1 * 6.0)


def test_zero_grad_resets_every_parameter() -> None:
    a, b = Value([1.0, 2.0]), Value(3.0)
    (a.sum() * b).backward()
    opt = Adam([a, b])
    opt.zero_grad()
    assert np.all(a.grad == 0) and b.grad == 0.0


def test_a_parameter_listed_twice_is_updated_once() -> None:
    p = Value(1.0)
    p.grad = 1.0
    SGD([p, p], lr=0.5).step()
    assert p.data == 0.5


def test_sgd_and_adam_train_a_small_model() -> None:
    X = np.random.default_rng(0).normal(size=(20, 2))
    y = X @ np.array([1.0, -2.0]) + 0.5
    for make in (lambda ps: SGD(ps, lr=0.1, momentum=0.9), lambda ps: Adam(ps, lr=0.1)):
        model = MLP(2, [1], seed=0)
        opt: Optimizer = make(model.parameters())
        first = None
        for _ in range(200):
            loss = mse_loss(model(X), y)
            first = loss.data if first is None else first
            opt.zero_grad()
            loss.backward()
            opt.step()
        assert loss.data < 1e-4 * cast(float, first)  # (the first step's loss: a scalar)


@pytest.mark.parametrize(
    ("make", "error", "message"),
    [
        (lambda: SGD([], lr=0.1), ValueError, "at least one parameter"),
        (lambda: SGD(Value(1.0), lr=0.1), TypeError, "not a single Value"),
        (lambda: SGD([1.0], lr=0.1),  # type: ignore[list-item]
         TypeError, "parameter 0 is not a Value; got float"),
        (lambda: Adam([Value(1.0), Value([1.0, 2.0]) * 0.1]), ValueError,
         r"^parameter 1, an unlabelled Value \(shape \(2,\), made by mul\), is not a leaf"),
        (lambda: SGD([Value(1.0)], lr=-1.0), ValueError, "SGD: lr must be a finite number"),
        (lambda: SGD([Value(1.0)], lr=math.inf), ValueError, "SGD: lr must be a finite"),
        # nan is no number ≥ 0 (nan < 0 is False too: the test must be `not value >= 0`)
        (lambda: SGD([Value(1.0)], lr=math.nan), ValueError,
         r"^SGD: lr must be a finite number ≥ 0; got nan$"),
        (lambda: SGD([Value(1.0)], lr=0.1, momentum=math.nan), ValueError, "SGD: momentum"),
        (lambda: SGD([Value(1.0)], lr=0.1, weight_decay=math.nan), ValueError,
         "SGD: weight_decay"),
        (lambda: Adam([Value(1.0)], eps=math.nan), ValueError, "Adam: eps"),
        (lambda: SGD([Value(1.0)], lr=0.1, momentum=-0.5), ValueError, "momentum"),
        (lambda: Adam([Value(1.0)], betas=(0.9, 1.0)), ValueError, r"betas must be two numbers"),
        (lambda: Adam([Value(1.0)], eps=-1.0), ValueError, "Adam: eps"),
        (lambda: Adam([Value(1.0)], betas=0.9),  # type: ignore[arg-type]
         ValueError, r"^Adam: betas must be two numbers in \[0, 1\); got 0.9$"),
        (lambda: setattr(SGD([Value(1.0)], lr=0.1), "lr", "0.1"), ValueError,
         r"^SGD: lr must be a finite number ≥ 0; got '0.1'$"),  # (at the assignment)
        (lambda: setattr(Adam([Value(1.0)]), "lr", -1), ValueError, r"^Adam: lr must be"),
    ],
)
def test_bad_arguments_are_refused(make: Any, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        make()


def test_numpy_numbers_are_numbers_for_every_setting() -> None:
    """np.float32(0.9) is as good a beta as 0.9 (it was refused, though an lr of that type
    was taken)."""
    w, numbers = Value([1.0, 2.0]), cast(Any, np)  # (typed float, as PyTorch's)
    adam = Adam([w], lr=numbers.float32(0.5), betas=(numbers.float32(0.5), np.float64(0.25)),
                eps=numbers.int64(0))
    assert adam.betas == (0.5, 0.25) and type(adam.lr) is float
    sgd = SGD([w], lr=np.float64(0.1), momentum=numbers.float32(0.5),
              weight_decay=numbers.int32(0))
    sgd.lr = numbers.float32(0.25)
    assert sgd.lr == 0.25 and type(sgd.lr) is float


def test_model_parameters_generator_is_accepted() -> None:
    model = MLP(2, [2, 1], seed=0)
    opt = SGD((p for p in model.parameters()), lr=0.1)
    assert len(opt.params) == 4
