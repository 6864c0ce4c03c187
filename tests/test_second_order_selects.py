"""Rules that select by their operand's data, recorded with create_graph=True.

relu, leaky_relu, clip, maximum, minimum, max and min choose, by a condition on the data of
their operand `a`, where the upstream gradient goes; getitem scatters it into an array of a's
shape. Recorded (``backward(create_graph=True)``), each gradient is a Value that is a function
of `a` (the select names `a` as an operand, with derivative 0), so that a second backward
from ``(x.grad * v).sum()`` adds H·v (here 0: the rules are piecewise constant) onto x.grad,
as PyTorch's does where PyTorch records its rule; before, a gradient built from the constant
seed alone was a constant, and that second backward raised. The first-order numbers are the
old rules', bit for bit (copies of them below), nan, ±inf and signed zeros included.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from test_fast import assert_same_bits  # tests/ is on sys.path (pytest)

from tinygrad_edu import Value, kernels, ops
from tinygrad_edu.data import data_of
from tinygrad_edu.engine import enable_grad, gradients
from tinygrad_edu.kernels import shape_of

torch = importlib.import_module("torch")
F = torch.nn.functional
pytestmark = pytest.mark.filterwarnings(
    r"ignore:Using backward\(\) with create_graph=True:UserWarning")

Array = np.ndarray[Any, np.dtype[np.float64]]
SHAPES = [(), (1,), (3,), (2, 3)]
KINKS = (0.0, -0.5, 0.5)  # relu's and leaky_relu's kink, clip's bounds
SLOPE, LOW, HIGH = 0.05, -0.5, 0.5

# (ours, PyTorch's) for each select: f(x, c), c a constant of x's shape (maximum, minimum)
SELECTS: dict[str, tuple[Callable[[Value, Array], Value], Callable[[Any, Any], Any]]] = {
    "relu": (lambda x, c: x.relu(), lambda x, c: torch.relu(x)),
    "leaky_relu": (lambda x, c: x.leaky_relu(SLOPE), lambda x, c: F.leaky_relu(x, SLOPE)),
    "clip": (lambda x, c: x.clip(LOW, HIGH), lambda x, c: torch.clamp(x, LOW, HIGH)),
    "clip(min)": (lambda x, c: x.clip(min=LOW), lambda x, c: torch.clamp(x, min=LOW)),
    "maximum": (lambda x, c: x.maximum(c), lambda x, c: torch.maximum(x, torch.tensor(c))),
    "minimum": (lambda x, c: x.minimum(c), lambda x, c: torch.minimum(x, torch.tensor(c))),
    "max": (lambda x, c: x.max(), lambda x, c: torch.amax(x)),
    "min": (lambda x, c: x.min(), lambda x, c: torch.amin(x)),
    "max(axis=-1)": (lambda x, c: x.max(axis=-1) if x.ndim else x.max(),
                     lambda x, c: torch.amax(x, dim=-1) if x.dim() else torch.amax(x)),
    "min(axis=0, keepdims)": (lambda x, c: x.min(axis=0, keepdims=True) if x.ndim else x.min(),
                              lambda x, c: torch.amin(x, dim=0, keepdim=True) if x.dim()
                              else torch.amin(x)),
    "getitem": (lambda x, c: x.reshape(-1)[-1], lambda x, c: x.reshape(-1)[-1]),
    "getitem[..., 1:]": (lambda x, c: x.reshape(1, -1)[..., 1:],
                         lambda x, c: x.reshape(1, -1)[..., 1:]),
    "getitem[[0, 0]]": (lambda x, c: x.reshape(-1)[[0, 0]],
                        lambda x, c: x.reshape(-1)[[0, 0]]),
}


@st.composite
def _point(draw: st.DrawFn) -> tuple[Array, Array, Array, Array]:
    """x (kinks and ties often: its elements from a few values), a constant c of its shape
    (equal to x somewhere, often), the weights w of the root and the direction v."""
    shape = draw(st.sampled_from(SHAPES), label="shape")
    element = st.one_of(st.sampled_from((*KINKS, 1.0, -1.0)), st.floats(-3.0, 3.0))
    x = draw(hnp.arrays(np.float64, shape, elements=element), label="x")
    c = draw(hnp.arrays(np.float64, shape, elements=element), label="c")
    c = np.where(draw(hnp.arrays(np.bool_, shape), label="tie"), x, c)
    w = draw(hnp.arrays(np.float64, shape, elements=st.floats(-2.0, 2.0)), label="w")
    v = draw(hnp.arrays(np.float64, shape, elements=st.floats(-2.0, 2.0)), label="v")
    return x, c, w, v


def _weights(w: Array, shape: tuple[int, ...]) -> Array:
    """The weights of f's elements in the root: w's elements, as many as f has."""
    return np.resize(w, shape).astype(np.float64)


def _data(x: Any) -> Array:
    return np.asarray(x.data if isinstance(x, Value) else x, dtype=np.float64)


@pytest.mark.parametrize("name", sorted(SELECTS))
@given(point=_point())
def test_a_recorded_select_is_a_function_of_its_operand_and_adds_h_v_zero(
        name: str, point: tuple[Array, Array, Array, Array]) -> None:
    """After f(x)·w summed, backward(create_graph=True): x.grad requires grad, and a second
    backward from (x.grad · v).sum() adds H·v = 0 onto x.grad, as PyTorch float64's (where its
    own x.grad is a constant, its H·v is 0 too); the first derivative is PyTorch's."""
    x, c, w, v = point
    ours, theirs = SELECTS[name]
    X = Value(x)
    out = ours(X, c)
    (out * Value(_weights(w, out.shape), requires_grad=False)).sum().backward(create_graph=True)
    first = X.grad
    assert isinstance(first, Value) and first.requires_grad
    gradient = _data(first).copy()
    (first * Value(v, requires_grad=False)).sum().backward()
    total = _data(X.grad)

    T = torch.tensor(x, requires_grad=True)
    t_out = theirs(T, c)
    (t_out * torch.tensor(_weights(w, tuple(t_out.shape)))).sum().backward(create_graph=True)
    t_first = T.grad
    # (a tie's share: ours g·(1/k), PyTorch's g/k, an ulp apart)
    np.testing.assert_allclose(gradient, t_first.detach().numpy(), rtol=1e-15, atol=0.0)
    if t_first.requires_grad:  # (PyTorch records relu's and leaky_relu's rule only)
        (t_first * torch.tensor(v)).sum().backward()
    np.testing.assert_array_equal(total - gradient, np.zeros(x.shape))
    np.testing.assert_array_equal(T.grad.detach().numpy() - t_first.detach().numpy(),
                                  np.zeros(x.shape))


def _hinge(x: Value) -> Value:
    return (1.0 - x).relu().sum()


@pytest.mark.parametrize("x", [[-1.0, 0.0, 1.0, 2.0], [1.0], [0.0, 0.0]])
def test_a_second_recorded_pass_through_a_select_stays_a_function_of_its_operand(
        x: list[float]) -> None:
    """The select's own rule names the operand too: recorded twice (third derivatives),
    d/dG of ⟨relu′(x)·G, v⟩ = relu′(x)·v is again a function of x, with derivative 0."""
    X = Value(x)
    G = Value(np.ones(len(x)))
    X.relu().backward(G, create_graph=True)
    first = X.grad
    assert isinstance(first, Value) and first.requires_grad
    v = np.linspace(0.5, 1.5, len(x))
    (d_g,) = gradients((first * Value(v, requires_grad=False)).sum(), [G], create_graph=True)
    assert isinstance(d_g, Value) and d_g.requires_grad
    np.testing.assert_array_equal(d_g.data, np.where(np.array(x) > 0.0, v, 0.0))
    assert gradients((d_g * 1.0).sum(), [X]) == [pytest.approx(np.zeros(len(x)))]


def test_the_recorded_select_shows_its_operand_and_no_other_node() -> None:
    """The picture of relu's recorded pass: one where node, its operands the 0, the seed and
    x (the edge that makes x.grad a function of x): no node more than before."""
    x = Value([-1.0, 0.0, 2.0])
    x.relu().backward(np.ones(3), create_graph=True)
    grad = x.grad
    assert isinstance(grad, Value) and grad.op is ops.WHERE
    zero, seed, operand = grad.parents
    assert operand is x and not zero.requires_grad and not seed.requires_grad
    assert zero.data == 0.0 and _data(seed).tolist() == [1.0, 1.0, 1.0]
    assert _data(grad).tolist() == [0.0, 0.0, 1.0]


# ---- the first-order numbers: the old rules, copied, against the table's, bit for bit


def _old_extremum_share(g: Any, tie: Any, loses: Any) -> Any:
    return ops.WHERE(0.0, ops.WHERE(0.5 * g, g, cond=tie) if np.any(tie) else g, cond=loses)


def _old_max(g: Any, out: Any, a: Any, *, axis: Any, keepdims: bool) -> tuple[Any, ...]:
    shape = shape_of(a)
    winners = np.asarray(data_of(a)) == np.reshape(data_of(out), kernels.kept_shape(shape, axis))
    share = winners / np.sum(winners, axis=axis, keepdims=True)
    return (ops._spread(g, shape, axis) * share,)


def _old_maximum(g: Any, out: Any, a: Any, b: Any) -> tuple[Any, ...]:
    x, y = data_of(a), data_of(b)
    return _old_extremum_share(g, x == y, x < y), _old_extremum_share(g, x == y, x > y)


def _old_minimum(g: Any, out: Any, a: Any, b: Any) -> tuple[Any, ...]:
    x, y = data_of(a), data_of(b)
    return _old_extremum_share(g, x == y, x > y), _old_extremum_share(g, x == y, x < y)


OLD: dict[str, Callable[..., tuple[Any, ...]]] = {
    "relu": lambda g, out, a: (ops.WHERE(0.0, g, cond=a <= 0.0),),
    "leaky_relu": lambda g, out, a, *, negative_slope: (
        ops.WHERE(g, g * negative_slope, cond=a > 0.0),),
    "clip": lambda g, out, a, *, min, max: (ops.WHERE(g, 0.0, cond=ops._within(a, min, max)),),
    "maximum": _old_maximum,
    "minimum": _old_minimum,
    "max": _old_max,
    "min": _old_max,
    "getitem": lambda g, out, a, *, index: (
        ops.SCATTER_ADD(g, index=index, shape=shape_of(a)),),
}
PARAMS: dict[str, list[dict[str, Any]]] = {
    "relu": [{}], "maximum": [{}], "minimum": [{}],
    "leaky_relu": [{"negative_slope": 0.01}, {"negative_slope": -2.0}],
    "clip": [{"min": -0.5, "max": 0.5}, {"min": 0.0, "max": None}, {"min": None, "max": 1.0}],
    "max": [{"axis": None, "keepdims": False}, {"axis": (0,), "keepdims": True}],
    "min": [{"axis": None, "keepdims": False}, {"axis": (0,), "keepdims": False}],
    "getitem": [{"index": 0}, {"index": (slice(None, 2),)}, {"index": (np.array([0, 0]),)}],
}
SPECIAL = st.sampled_from([0.0, -0.0, 0.5, -0.5, 1.0, -1.0, np.inf, -np.inf, np.nan, -np.nan,
                           5e-324])


def _same_shares(new: tuple[Any, ...], old: tuple[Any, ...], where: str) -> None:
    """The same shares to the bit, a Value's by its data (`assert_same_bits`: type, shape,
    dtype and bytes; nan payloads and signed zeros count)."""
    assert len(new) == len(old), where
    for k, (n, o) in enumerate(zip(new, old, strict=True)):
        assert_same_bits(data_of(n), data_of(o), f"{where}, share {k}")


@pytest.mark.parametrize("name", sorted(OLD))
@given(data=st.data())
def test_first_order_gradients_are_the_old_rules_bit_for_bit(name: str,
                                                             data: st.DataObject) -> None:
    """Regression test: the table's rule and a copy of the old one (no operand named by the
    select) give the same shares, on floats, on arrays and recorded (Values), for special
    values of the operands and of g (nan, ±inf, ±0, the smallest subnormal)."""
    prim = ops.REGISTRY[name]
    params = data.draw(st.sampled_from(PARAMS[name]), label="params")
    tensor = data.draw(st.booleans(), label="tensor") or name in ("getitem",) or (
        name in ("max", "min") and params["axis"] is not None)
    shape = data.draw(st.sampled_from([(3,), (2, 3)]), label="shape") if tensor else ()
    arity = 2 if name in ("maximum", "minimum") else 1
    inputs: list[Any] = [data.draw(hnp.arrays(np.float64, shape, elements=SPECIAL),
                                   label=f"input {i}") for i in range(arity)]
    if not tensor:
        inputs = [float(x) for x in inputs]
    out = prim(*[Value(x, requires_grad=False) for x in inputs], **params).data
    g_raw = data.draw(hnp.arrays(np.float64, np.shape(out), elements=SPECIAL), label="g")
    g: Any = float(g_raw) if type(out) is float else g_raw
    with np.errstate(all="ignore"):
        new, old = prim.vjp(g, out, *inputs, **params), OLD[name](g, out, *inputs, **params)
        _same_shares(new, old, f"{name} on data")
        with enable_grad():  # recorded: the operands Values, g a constant or a Value
            values = [Value(x) for x in inputs]
            for g_value in (Value(g, requires_grad=False), Value(g)):
                out_value = prim(*values, **params)
                new = prim.vjp(g_value, out_value, *values, **params)
                old = OLD[name](g_value, out_value, *values, **params)
                _same_shares(new, old, f"{name} recorded")
                assert all(s.requires_grad for s in new)
