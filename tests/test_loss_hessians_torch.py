"""Second derivatives of the losses against PyTorch float64 and exact closed forms.

Each loss's full Hessian in its first argument, and where the loss is differentiable in the
target the mixed second derivative d²L / d(pred) d(target), comes from a recorded first
pass (`gradients(..., create_graph=True)`) and one backward pass per element; PyTorch's from
`torch.autograd.grad` twice. Then a learner's route: `loss.backward(create_graph=True)`, then
`(x.grad * v).sum().backward()`, which adds the Hessian-vector product onto `x.grad` as
PyTorch does, and agrees with `grad(grad(...))`. Where PyTorch is less accurate than a closed
form (σ(x)·σ(−x) beyond |x| ≈ 36, where PyTorch's is 0; binary_cross_entropy's double
backward, which adds 1e-12 to p and to 1 − p), the closed form is the reference; where the
documented convention differs from PyTorch's (binary_cross_entropy's floor), ours is tested.
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

from tinygrad_edu import Value, grad, ops
from tinygrad_edu.engine import gradients
from tinygrad_edu.kernels import BCE_EPSILON
from tinygrad_edu.losses import (
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    cross_entropy,
    hinge_loss,
    huber_loss,
    l1_loss,
    mse_loss,
    nll_loss,
)
from tinygrad_edu.testing.strategies import broadcastable_shapes

torch = importlib.import_module("torch")
F = torch.nn.functional
# (PyTorch's advice against .backward(create_graph=True): the route under test is that one)
pytestmark = pytest.mark.filterwarnings(
    r"ignore:Using backward\(\) with create_graph=True:UserWarning")

REDUCTIONS = ("mean", "sum", "none")
Array = np.ndarray[Any, np.dtype[np.float64]]


def _torch_hinge(scores: Any, target: Any, reduction: str = "mean") -> Any:
    """micrograd's max-margin loss relu(1 − y·s), reduced (PyTorch has no such loss)."""
    losses = torch.relu(1.0 - target * scores)
    return losses.mean() if reduction == "mean" else losses.sum() if reduction == "sum" else losses


ELEMENTWISE: dict[str, tuple[Callable[..., Value], Callable[..., Any]]] = {
    "mse_loss": (mse_loss, F.mse_loss),
    "l1_loss": (l1_loss, F.l1_loss),
    "huber_loss": (huber_loss, F.huber_loss),
    "binary_cross_entropy": (binary_cross_entropy, F.binary_cross_entropy),
    "binary_cross_entropy_with_logits": (binary_cross_entropy_with_logits,
                                         F.binary_cross_entropy_with_logits),
    "hinge_loss": (hinge_loss, _torch_hinge),
}
CLASSES: dict[str, tuple[Callable[..., Value], Callable[..., Any]]] = {
    "cross_entropy": (cross_entropy, F.cross_entropy),
    "nll_loss": (nll_loss, F.nll_loss),
}


def _weights(shape: tuple[int, ...]) -> Array:
    """Distinct weights of the per-element losses of reduction "none" (a mix-up shows)."""
    return np.linspace(0.5, 1.5, int(np.prod(shape))).reshape(shape)


def _ours(loss: Callable[..., Value], pred: Any, target: Any, reduction: str,
          **kw: Any) -> tuple[Array, Array, Array]:
    """Our first derivative in pred, the Hessian in pred and the mixed second derivative
    (rows: pred's elements; columns: pred's, target's), from a recorded first pass."""
    p = Value(pred)
    t = Value(target) if np.asarray(target).dtype.kind == "f" else target
    out = loss(p, t, reduction=reduction, **kw)
    root = (out * Value(_weights(out.shape), requires_grad=False)).sum() if out.shape else out
    (first,) = gradients(root, [p], create_graph=True)
    n = p.size
    hxx, hxt = np.zeros((n, n)), np.zeros((n, np.size(target)))
    for i in range(n):
        e = np.zeros(n)
        e[i] = 1.0
        row = (first * Value(e.reshape(p.shape), requires_grad=False)).sum()
        shares = gradients(row, [p, t] if isinstance(t, Value) else [p])
        hxx[i] = np.asarray(shares[0]).reshape(-1)
        if isinstance(t, Value):
            hxt[i] = np.asarray(shares[1]).reshape(-1)
    return np.asarray(first.data).reshape(-1), hxx, hxt


def _theirs(loss: Callable[..., Any], pred: Any, target: Any, reduction: str,
            **kw: Any) -> tuple[Array, Array, Array]:
    """The same three from PyTorch float64 (a target of another shape is reshaped to pred's:
    ours compares (batch, 1) with (batch,) as they are, PyTorch would broadcast)."""
    p = torch.tensor(np.asarray(pred, dtype=np.float64), requires_grad=True)
    given = np.asarray(target)
    floating = given.dtype.kind == "f"
    t = torch.tensor(given.reshape(p.shape) if floating else given, requires_grad=floating)
    out = loss(p, t, reduction=reduction, **kw)
    root = (out * torch.tensor(_weights(tuple(out.shape)))).sum() if out.dim() else out
    (first,) = torch.autograd.grad(root, p, create_graph=True)
    n = p.numel()
    hxx, hxt = np.zeros((n, n)), np.zeros((n, given.size))
    for i in range(n):
        if not first.requires_grad:
            continue
        shares = torch.autograd.grad(first.reshape(-1)[i], [p, t] if floating else [p],
                                     retain_graph=True, allow_unused=True,
                                     materialize_grads=True)
        hxx[i] = shares[0].reshape(-1).numpy(force=True)
        if floating:
            hxt[i] = shares[1].reshape(-1).numpy(force=True)
    return first.detach().reshape(-1).numpy(), hxx, hxt


def _close(ours: Any, theirs: Any, rtol: float = 1e-10, atol: float = 1e-13) -> None:
    np.testing.assert_allclose(ours, theirs, rtol=rtol, atol=atol)


def _scale(reduction: str, shape: tuple[int, ...]) -> Array:
    """What each element's loss is multiplied by in the root: 1/n, 1 or its weight (none for
    a scalar's)."""
    n = int(np.prod(shape))
    if reduction == "none" and shape:
        return _weights(shape).reshape(-1)
    return np.full(n, 1.0 / n if reduction == "mean" else 1.0)


# ---- random inputs: full Hessians and mixed derivatives against PyTorch (regression tests)


@st.composite
def _pred_and_target(draw: st.DrawFn, name: str) -> tuple[Array, Array]:
    shape = draw(st.sampled_from([(), (3,), (4, 3), (1,), (1, 3), (2, 1)]), label="shape")
    target_shape = (2,) if shape == (2, 1) and draw(st.booleans()) else shape
    unit = st.floats(0.01, 0.99)  # (binary_cross_entropy: away from its floor)
    if name == "binary_cross_entropy":
        return draw(hnp.arrays(np.float64, shape, elements=unit)), draw(
            hnp.arrays(np.float64, target_shape, elements=unit))
    if name == "binary_cross_entropy_with_logits":
        # (|z| ≤ 8: beyond, PyTorch's σ(z)·(1 − σ(z)) loses digits; the closed-form test
        # below takes over)
        return draw(hnp.arrays(np.float64, shape, elements=st.floats(-8.0, 8.0))), draw(
            hnp.arrays(np.float64, target_shape, elements=unit))
    pred = draw(hnp.arrays(np.float64, shape, elements=st.floats(-3.0, 3.0)))
    if name == "hinge_loss":
        return pred, draw(hnp.arrays(np.float64, target_shape,
                                     elements=st.sampled_from([-1.0, 1.0])))
    offsets = draw(hnp.arrays(np.float64, target_shape, elements=st.floats(0.05, 3.0)))
    signs = draw(hnp.arrays(np.float64, target_shape, elements=st.sampled_from([-1.0, 1.0])))
    return pred, pred.reshape(target_shape) + signs * offsets  # (l1 and huber: no kink)


@pytest.mark.parametrize("name", sorted(ELEMENTWISE))
@given(data=st.data(), reduction=st.sampled_from(REDUCTIONS))
def test_hessian_and_mixed_derivative_of_each_elementwise_loss_match_pytorch(
        name: str, data: st.DataObject, reduction: str) -> None:
    pred, target = data.draw(_pred_and_target(name), label="pred, target")
    ours, theirs = ELEMENTWISE[name]
    first, hxx, hxt = _ours(ours, pred, target, reduction)
    t_first, t_hxx, t_hxt = _theirs(theirs, pred, target, reduction)
    _close(first, t_first)
    if name == "binary_cross_entropy":
        # PyTorch's double backward adds 1e-12 to p and to 1 − p (1e-10 off at p = 0.01): the
        # exact y/p² + (1 − y)/(1 − p)² and −1/(p(1 − p)) are the reference
        p, y = pred.reshape(-1), target.reshape(-1)
        scale = _scale(reduction, pred.shape)
        t_hxx = np.diag(scale * (y / p**2 + (1.0 - y) / (1.0 - p) ** 2))
        t_hxt = np.diag(-scale / (p * (1.0 - p)))
    _close(hxx, t_hxx)
    _close(hxt, t_hxt)


@pytest.mark.parametrize("name", sorted(CLASSES))
@given(data=st.data(), reduction=st.sampled_from(REDUCTIONS), one=st.booleans())
def test_hessian_of_each_class_loss_matches_pytorch(name: str, data: st.DataObject,
                                                    reduction: str, one: bool) -> None:
    batch, classes = data.draw(st.integers(1, 4)), data.draw(st.integers(1, 4))
    shape = (classes,) if one else (batch, classes)
    z = data.draw(hnp.arrays(np.float64, shape, elements=st.floats(-20.0, 20.0)), label="z")
    labels: Any = np.array(data.draw(st.lists(st.integers(0, classes - 1), min_size=batch,
                                              max_size=batch)), dtype=np.intp)
    if one:
        labels = int(labels[0])
    if data.draw(st.booleans()) and not one:
        labels = labels.tolist()  # (the long way of cross_entropy, not its array shortcut)
    ours, theirs = CLASSES[name]
    first, hxx, _ = _ours(ours, z, labels, reduction)
    t_first, t_hxx, _ = _theirs(theirs, z, labels, reduction)
    _close(first, t_first, atol=1e-15)
    _close(hxx, t_hxx, atol=1e-15)


# ---- the edges: kinks (the README's conventions), saturated logits, the floor of bce


def test_hessians_at_the_kinks_follow_the_readme_and_pytorch() -> None:
    """hinge exactly at the margin, l1 at pred = target, huber at |d| = δ: the second
    derivatives are the conventions' (0 at each kink), the first ones too, as PyTorch's."""
    # hinge: margins 1 − y·s of 0, 0 (the kink), 0.5 and 3
    scores, signs = np.array([1.0, -1.0, 0.5, 2.0]), np.array([1.0, -1.0, 1.0, -1.0])
    for reduction in REDUCTIONS:
        ours = _ours(hinge_loss, scores, signs, reduction)
        theirs = _theirs(_torch_hinge, scores, signs, reduction)
        scale = _scale(reduction, (4,))
        np.testing.assert_array_equal(ours[0], scale * [0.0, 0.0, -1.0, 1.0])
        np.testing.assert_array_equal(ours[1], np.zeros((4, 4)))
        np.testing.assert_array_equal(ours[2], np.diag(scale * [0.0, 0.0, -1.0, -1.0]))
        for mine, pytorch in zip(ours, theirs, strict=True):
            _close(mine, pytorch)
    # l1 at pred = target
    x = np.array([0.0, 1.0, -2.5])
    for reduction in REDUCTIONS:
        first, hxx, hxt = _ours(l1_loss, x, x.copy(), reduction)
        assert not first.any() and not hxx.any() and not hxt.any()
    # huber at |d| = δ (the linear side's 0), inside (1) and beyond (0)
    for delta in (1.0, 2.5):
        pred, target = np.array([delta, -delta, 0.3, 3 * delta]), np.zeros(4)
        for reduction in REDUCTIONS:
            ours = _ours(huber_loss, pred, target, reduction, delta=delta)
            theirs = _theirs(F.huber_loss, pred, target, reduction, delta=delta)
            scale = _scale(reduction, (4,))
            np.testing.assert_array_equal(ours[1], np.diag(scale * [0.0, 0.0, 1.0, 0.0]))
            np.testing.assert_array_equal(ours[2], -ours[1])
            for mine, pytorch in zip(ours, theirs, strict=True):
                _close(mine, pytorch)


def _sigmoid_slope(x: Array) -> Array:
    """σ(x)·σ(−x) = e^−|x| / (1 + e^−|x|)², exact to an ulp or two for every x."""
    e = np.exp(-np.abs(x))
    return e / (1.0 + e) ** 2


SATURATED = np.array([0.0, 1e-300, 1.0, 20.0, 36.0, 37.0, 50.0, 100.0, 700.0, 709.0, 710.0,
                      740.0, 800.0, 1e4])


@pytest.mark.parametrize("y", [0.0, 0.3, 1.0])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_bce_with_logits_hessian_is_exact_where_the_naive_formula_underflows(
        y: float, reduction: str) -> None:
    """d²/dz² = σ(z)·σ(−z), to the last digits out to |z| = 745 (and 0 beyond, the exact
    value's rounding); PyTorch float64 gives 0 from |z| ≈ 37 on (4% off at 36), where its
    σ(z)·(1 − σ(z)) loses 1 − σ(z). d²/dz dy = −1 everywhere."""
    z = np.concatenate([SATURATED, -SATURATED])
    target = np.full(z.shape, y)
    _, hxx, hxt = _ours(binary_cross_entropy_with_logits, z, target, reduction)
    scale = _scale(reduction, z.shape)
    # (a few subnormal ulps, 5e-324 each, where y·σσ + (1 − y)·σσ rounds twice)
    np.testing.assert_allclose(np.diag(hxx), scale * _sigmoid_slope(z), rtol=1e-15,
                               atol=5e-322)
    np.testing.assert_array_equal(hxx, np.diag(np.diag(hxx)))
    np.testing.assert_allclose(hxt, np.diag(-scale), rtol=1e-15, atol=0.0)


def test_bce_second_derivative_at_its_floor_is_the_derivative_of_the_documented_rule() -> None:
    """binary_cross_entropy's d/dp is (p − y)/max(p(1 − p), ε), ε = 1e-12 as a float32 (the
    docstring, as PyTorch's first derivative): where the floor holds (p within 1e-12 of 0 or
    1), its derivative in p is 1/ε and in y −1/ε. PyTorch's double backward is another
    formula, (p² − 2py + y)/((p + 1e-12)²(1 − p + 1e-12)²): 1e24 at p = 0, y = 1 and 0 at
    p = 0, y = 0, neither the derivative of its own first derivative. Ours is kept."""
    p = np.array([0.0, 1.0, 0.0, 1.0, 1e-300, 0.0, 1.0])
    y = np.array([1.0, 0.0, 0.0, 1.0, 0.0, 0.5, 0.5])
    first, hxx, hxt = _ours(binary_cross_entropy, p, y, "sum")
    np.testing.assert_array_equal(first, (p - y) / BCE_EPSILON)
    np.testing.assert_array_equal(hxx, np.diag(np.full(7, 1.0 / BCE_EPSILON)))
    np.testing.assert_array_equal(hxt, np.diag(np.full(7, -1.0 / BCE_EPSILON)))
    # the first derivative by central differences in the floor agrees: slope 1/ε
    step = 1e-14
    around = Value(np.array([0.5e-12, 1.0 - 0.5e-12]))
    binary_cross_entropy(around, [0.3, 0.3], reduction="sum").backward()
    (up,) = gradients(binary_cross_entropy(around + step, [0.3, 0.3], reduction="sum"),
                      [around])
    np.testing.assert_allclose((up - around.grad) / step, 1.0 / BCE_EPSILON, rtol=1e-2)


@pytest.mark.parametrize("classes", [1, 2, 3, 7])
@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_cross_entropy_hessian_at_equal_logits_is_diag_p_minus_ppt(classes: int,
                                                                   reduction: str) -> None:
    """All logits equal: p = 1/C, the Hessian of each row (I/C − 1/C²), /batch for the mean,
    the same for every label and for nll_loss(log_softmax(z))."""
    z = np.full((2, classes), 3.25)
    labels = np.array([0, classes - 1], dtype=np.intp)
    block = np.eye(classes) / classes - 1.0 / classes**2
    expected = np.kron(np.eye(2), block) / (2 if reduction == "mean" else 1)
    _, hxx, _ = _ours(cross_entropy, z, labels, reduction)
    _close(hxx, expected, rtol=1e-15, atol=1e-17)
    _, composed, _ = _ours(lambda v, lab, reduction: nll_loss(v.log_softmax(), lab,
                                                              reduction=reduction),
                           z, labels, reduction)
    _close(composed, expected, rtol=1e-15, atol=1e-17)
    _close(hxx, _theirs(F.cross_entropy, z, labels, reduction)[1], rtol=1e-15,
           atol=1e-17)


@pytest.mark.parametrize("z", [[[50.0, -50.0, 0.0], [800.0, -800.0, 0.0]],
                               [[1e4, 0.0, -1e4], [-1e4, 0.0, 1e4]]])
def test_cross_entropy_hessian_at_saturated_logits_matches_pytorch(z: list[list[float]]) -> None:
    """Finite and PyTorch's numbers at logits of ±50, ±800, ±1e4 (no overflow, no nan); the
    Hessian is PyTorch's but where PyTorch's diagonal p − p² cancels to 0 (p rounds to 1:
    the exact p·(1 − p) is 1.9e-22 at [50, −50, 0]), where it is the closed form's."""
    for labels in (np.array([0, 1], dtype=np.intp), np.array([2, 2], dtype=np.intp)):
        for reduction in REDUCTIONS:
            ours = _ours(cross_entropy, np.array(z), labels, reduction)
            theirs = _theirs(F.cross_entropy, np.array(z), labels, reduction)
            for mine in ours[:2]:
                assert np.all(np.isfinite(mine))
            _close(ours[0], theirs[0], atol=1e-300)
            exact = _rows_softmax_hessian(np.array(z), _scale(reduction, (len(z),)))
            np.testing.assert_allclose(ours[1], exact, rtol=1e-12, atol=1e-300)
            cancelled = (theirs[1] == 0.0) & (exact != 0.0)
            assert not np.any(cancelled & ~np.eye(len(exact), dtype=bool))  # (diagonal only)
            _close(ours[1][~cancelled], theirs[1][~cancelled], atol=1e-300)


# ---- accuracy against the closed forms, where the core's rules cancel (pinned)


def _softmax_hessian(z: Array) -> Array:
    """diag(p) − p·pᵀ with its diagonal as p_i·Σ_{j≠i} p_j: no subtraction, no cancellation."""
    shifted = z - z.max()
    p = np.exp(shifted) / np.exp(shifted).sum()
    others = np.array([p.sum() - p[i] if p[i] < 0.5 else np.delete(p, i).sum()
                       for i in range(len(p))])
    hessian = -np.outer(p, p)
    np.fill_diagonal(hessian, p * others)
    return hessian


def _rows_softmax_hessian(z: Array, scale: Array) -> Array:
    """The Hessian of a cross_entropy over the rows of `z`: each row's `_softmax_hessian`,
    times its scale (1/batch, 1 or its weight), on the block diagonal."""
    rows, classes = z.shape
    hessian = np.zeros((rows * classes, rows * classes))
    for r in range(rows):
        block = slice(r * classes, (r + 1) * classes)
        hessian[block, block] = scale[r] * _softmax_hessian(z[r])
    return hessian


@pytest.mark.parametrize("z", [[40.0, 0.0, 0.0], [20.0, 0.0, 0.0], [50.0, -50.0, 0.0]])
@pytest.mark.parametrize("batched", [False, True])
def test_cross_entropy_hessian_keeps_its_digits_where_a_class_is_nearly_sure(
        z: list[float], batched: bool) -> None:
    """log_softmax's rule reads 1 − p from SOFTMAX_COMPLEMENT (no cancellation), and
    cross_entropy's, exp(log_softmax(z)) − onehot, differentiates through it: the diagonal
    is p_i·Σ_{j≠i} p_j, not p_i − p_i² (0 where the exact is 8.5e-18 at z = [40, 0, 0], 4e-8
    off at [20, 0, 0]; PyTorch's is as inaccurate)."""
    logits = np.array(z)
    if batched:
        _, hxx, _ = _ours(cross_entropy, logits[None, :], np.array([0], dtype=np.intp), "sum")
    else:
        _, hxx, _ = _ours(cross_entropy, logits, 0, "sum")
    np.testing.assert_allclose(hxx, _softmax_hessian(logits), rtol=1e-12, atol=0.0)


@pytest.mark.parametrize(("p", "y"), [(1e-9, 0.0), (1e-8, 0.0), (1.0 - 1e-9, 1.0)])
def test_bce_hessian_keeps_its_digits_near_0_and_1(p: float, y: float) -> None:
    """The slope (p − y)/(p(1 − p)) is an entry of its own (ops.BCE_SLOPE), whose rule is
    y/p² + (1 − y)/(1 − p)², a sum of positive terms: through div, its quotient rule gave
    two terms of 1/p that cancel (p = 1e-9, y = 0: 1.00000012 for 1.000000002; PyTorch:
    0.998)."""
    _, hxx, _ = _ours(binary_cross_entropy, np.array([p]), np.array([y]), "sum")
    np.testing.assert_allclose(hxx[0, 0], y / p**2 + (1.0 - y) / (1.0 - p) ** 2, rtol=1e-12)


# p, y where the old quotient rule lost digits (4.8e-7 to 2.2e-12, relative): p near 0 with y
# at or about 0, p near 1 with y = 1; p(1 − p) stays above the floor (1e-12)
NEAR_THE_ENDS = [(3e-10, 0.0), (2e-8, 0.0), (1e-9, 1e-20), (3e-9, 1e-18), (1.0 - 1e-5, 1.0),
                 (1.0 - 2e-7, 1.0), (1.0 - 3e-9, 1.0), (1.0 - 1e-11, 1.0)]


@pytest.mark.parametrize(("p", "y"), NEAR_THE_ENDS)
def test_bce_slope_gives_the_second_derivatives_of_the_loss_near_0_and_1(p: float,
                                                                        y: float) -> None:
    """d²bce/dp² = y/p² + (1 − y)/(1 − p)² and d²bce/dp dy = −1/(p(1 − p)) to 1e-12, from
    bce_slope's rule: on a tensor (mean, beside an ordinary element), on a scalar by
    grad(grad(...)), and bce_slope's own derivatives."""
    d_pp, d_py = y / p**2 + (1.0 - y) / (1.0 - p) ** 2, -1.0 / (p * (1.0 - p))
    _, hxx, hxt = _ours(binary_cross_entropy, np.array([p, 0.5]), np.array([y, 0.25]), "mean")
    np.testing.assert_allclose(hxx[0, 0], d_pp / 2, rtol=1e-12)
    np.testing.assert_allclose(hxt[0, 0], d_py / 2, rtol=1e-12)
    assert hxx[0, 1] == hxx[1, 0] == hxt[0, 1] == hxt[1, 0] == 0.0
    loss = lambda q, t: binary_cross_entropy(q, t, reduction="sum")  # noqa: E731
    np.testing.assert_allclose(grad(grad(loss))(p, y), d_pp, rtol=1e-12)
    np.testing.assert_allclose(grad(grad(loss), argnums=1)(p, y), d_py, rtol=1e-12)
    q, t = Value(p), Value(y)
    slope_p, slope_y = gradients(ops.BCE_SLOPE(q, t), [q, t])
    np.testing.assert_allclose(slope_p, d_pp, rtol=1e-12)
    np.testing.assert_allclose(slope_y, d_py, rtol=1e-12)


FLOORED = [0.0, 1.0, 1e-300, 5e-13, 1.0 - 2.0**-53, -0.0, -0.5, 1.5, np.inf, -np.inf]


def test_bce_slope_where_the_floor_holds_has_the_floored_functions_derivatives() -> None:
    """Where p(1 − p) < ε (p = 0, 1, within 1e-12 of either, outside [0, 1]), bce_slope is
    (p − y)/ε: d/dp = 1/ε and d/dy = −1/ε (ops.py's NOTE), for every y, nan included (the
    1/ε reads no y); and its own derivatives, the loss's third, are 0 and finite there (the
    branch not taken reads p as 0.5, no 0/0)."""
    p = Value(np.repeat(FLOORED, 4))
    y = Value(np.tile([0.0, 0.3, 1.0, np.nan], len(FLOORED)))
    d_p, d_y = gradients(ops.BCE_SLOPE(p, y).sum(), [p, y], create_graph=True)
    np.testing.assert_array_equal(d_p.data, np.full(p.shape, 1.0 / BCE_EPSILON))
    np.testing.assert_array_equal(d_y.data, np.full(p.shape, -1.0 / BCE_EPSILON))
    for second in (*gradients(d_p.sum(), [p, y]), *gradients(d_y.sum(), [p, y])):
        np.testing.assert_array_equal(second, np.zeros(p.shape))
    # a scalar takes the float path: the same numbers
    for q in FLOORED:
        scalars = Value(float(q)), Value(0.3)
        assert gradients(ops.BCE_SLOPE(*scalars), scalars) == [1.0 / BCE_EPSILON,
                                                               -1.0 / BCE_EPSILON]


def _old_bce_rule(g: Any, p: Any, y: Any) -> tuple[Any, Any]:
    """binary_cross_entropy's rule on data as it was before bce_slope: (p − y)/pq, pq =
    p(1 − p) raised to ε by a select where it is below; d/dy = log(1 − p) − log(p)."""
    p = np.float64(p) if type(p) is float else p
    pq = p * (1.0 - p)
    floored = np.asarray(pq) < BCE_EPSILON
    if floored.any():
        pq = np.where(floored, BCE_EPSILON, pq)
    with np.errstate(all="ignore"):
        return g * ((p - y) / pq), g * (np.log(1.0 - p) - np.log(p))


def _same_bits(actual: Any, expected: Any) -> None:
    """Equal bit for bit (-0.0 is not 0.0), or nan both."""
    a, e = np.asarray(actual, dtype=np.float64), np.asarray(expected, dtype=np.float64)
    assert a.shape == e.shape
    assert np.array_equal(np.isnan(a), np.isnan(e)), (a, e)
    assert np.array_equal(a[~np.isnan(a)].view(np.int64), e[~np.isnan(e)].view(np.int64)), (
        a, e)


UNIT = st.one_of(st.sampled_from([0.0, 1.0, 5e-13, 1.0 - 2.0**-53, 0.5]), st.floats(0.0, 1.0),
                 st.floats(0.0, 1e-11), st.floats(1.0 - 1e-11, 1.0))
ANY = st.one_of(UNIT, st.sampled_from([np.nan, np.inf, -np.inf, -0.0, -1.0, 2.0, 1e308]),
                st.floats())


@given(data=st.data(), reduction=st.sampled_from(REDUCTIONS))
def test_bce_first_derivative_is_bit_identical_to_the_old_rule(data: st.DataObject,
                                                               reduction: str) -> None:
    """Regression test (it passes on the rule before bce_slope): the first derivatives of
    binary_cross_entropy did not change by a bit, p from [0, 1] with 0, 1 and the floor's
    edges (1e-12 from either end), y from [0, 1]; and the rule on data, at any floats (nan,
    ±inf, outside [0, 1]), broadcast between p and y, on floats and arrays."""
    shape = data.draw(st.sampled_from([(), (1,), (5,), (2, 3)]), label="shape")
    p: Any
    y: Any
    if shape:
        p = data.draw(hnp.arrays(np.float64, shape, elements=UNIT), label="p")
        y = data.draw(hnp.arrays(np.float64, shape, elements=st.floats(0.0, 1.0)), label="y")
    else:
        p, y = data.draw(UNIT, label="p"), data.draw(st.floats(0.0, 1.0), label="y")
    q, t = Value(p), Value(y)
    out = binary_cross_entropy(q, t, reduction=reduction)
    upstream = _weights(shape) if reduction == "none" and shape else None
    out.backward(upstream)
    g: Any = 1.0 if upstream is None else upstream
    if reduction == "mean" and shape:
        g = 1.0 / np.prod(shape)
    old_p, old_y = _old_bce_rule(g, p, y)
    _same_bits(q.grad, old_p)
    _same_bits(t.grad, old_y)
    # the rule itself, on raw data of any floats, p and y broadcast together
    p_shape, y_shape = data.draw(broadcastable_shapes(2), label="shapes")
    operands: list[tuple[Any, Any]] = [
        (data.draw(ANY, label="p float"), data.draw(ANY, label="y float")),
        (data.draw(hnp.arrays(np.float64, p_shape, elements=ANY), label="p array"),
         data.draw(hnp.arrays(np.float64, y_shape, elements=ANY), label="y array")),
        (data.draw(ANY, label="p float"),
         data.draw(hnp.arrays(np.float64, y_shape, elements=ANY), label="y array")),
        (data.draw(hnp.arrays(np.float64, p_shape, elements=ANY), label="p array"),
         data.draw(ANY, label="y float"))]
    for p, y in operands:
        g = data.draw(hnp.arrays(np.float64, np.broadcast_shapes(np.shape(p), np.shape(y)),
                                 elements=st.floats(-3.0, 3.0)), label="g")
        g = float(g) if g.ndim == 0 else g
        shares = ops.BINARY_CROSS_ENTROPY.vjp(g, None, p, y)
        for new, old in zip(shares, _old_bce_rule(g, p, y), strict=True):
            _same_bits(new, old)


# ---- the learner's route: backward(create_graph=True), then a second backward


def _inputs(name: str, rng: np.random.Generator) -> tuple[Array, Any]:
    if name in CLASSES:
        return rng.normal(size=(4, 3)) * 3.0, rng.integers(0, 3, size=4).astype(np.intp)
    if name == "binary_cross_entropy":
        return rng.uniform(0.05, 0.95, (4, 3)), rng.uniform(0.0, 1.0, (4, 3))
    if name == "hinge_loss":
        return rng.normal(size=(4, 3)), rng.choice([-1.0, 1.0], (4, 3))
    return rng.normal(size=(4, 3)) * 2.0, rng.uniform(0.0, 1.0, (4, 3))


ALL = {**ELEMENTWISE, **CLASSES}


def _constant(data: Any) -> Value:
    return Value(data, requires_grad=False)


@pytest.mark.parametrize("name", sorted(ALL))
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_a_second_backward_adds_the_hessian_vector_product_onto_grad(name: str,
                                                                      reduction: str) -> None:
    rng = np.random.default_rng(sorted(ALL).index(name))
    x, target = _inputs(name, rng)
    v = rng.normal(size=x.shape)
    ours, theirs = ALL[name]

    def weighted(loss: Any, const: Callable[[Any], Any], xs: Any) -> Any:
        out = loss(xs, target if const is _constant else const(target), reduction=reduction)
        return (out * const(_weights(tuple(out.shape)))).sum() if reduction == "none" else out

    X = Value(x)
    weighted(ours, _constant, X).backward(create_graph=True)
    first = X.grad
    assert isinstance(first, Value)
    gradient = np.array(first.data)
    (first * Value(v, requires_grad=False)).sum().backward()
    total = np.asarray(X.grad.data if isinstance(X.grad, Value) else X.grad)

    T = torch.tensor(x, requires_grad=True)
    weighted(theirs, torch.tensor, T).backward(create_graph=True)
    (T.grad * torch.tensor(v)).sum().backward()
    expected = T.grad.detach().numpy()
    if name == "binary_cross_entropy":  # (PyTorch's double backward adds 1e-12: see above)
        p, y = x, target
        scale = _scale(reduction, x.shape).reshape(x.shape)
        expected = gradient + v * scale * (y / p**2 + (1.0 - y) / (1.0 - p) ** 2)
    _close(total, expected)
    # the same product by grad(grad(...)), from scratch
    product = grad(lambda xs: (grad(lambda w: weighted(ours, _constant, w))(xs)
                               * Value(v, requires_grad=False)).sum())(x)
    _close(product, total - gradient)


def test_hessian_vector_products_of_a_small_network_and_each_loss_match_pytorch() -> None:
    """A learner's composition: a tanh layer, a linear one, a loss; H·v for all the
    parameters at once, by backward(create_graph=True) twice, as PyTorch's."""
    rng = np.random.default_rng(7)
    X = rng.normal(size=(5, 3))
    weights = [rng.normal(size=(3, 4)), rng.normal(size=4), rng.normal(size=(4, 3)) * 2.0,
               rng.normal(size=3)]
    vs = [rng.normal(size=w.shape) for w in weights]
    labels, soft = rng.integers(0, 3, size=5).astype(np.intp), rng.uniform(size=(5, 3))
    heads: dict[str, tuple[Callable[[Any], Any], Callable[[Any], Any]]] = {
        "cross_entropy": (lambda z: cross_entropy(z, labels),
                          lambda z: F.cross_entropy(z, torch.tensor(labels))),
        "nll_loss(log_softmax)": (lambda z: nll_loss(z.log_softmax(), labels, reduction="sum"),
                                  lambda z: F.nll_loss(F.log_softmax(z, -1),
                                                       torch.tensor(labels), reduction="sum")),
        "mse_loss": (lambda z: mse_loss(z, soft), lambda z: F.mse_loss(z, torch.tensor(soft))),
        "bce_with_logits": (lambda z: binary_cross_entropy_with_logits(z, soft),
                            lambda z: F.binary_cross_entropy_with_logits(z, torch.tensor(soft))),
        "huber_loss": (lambda z: huber_loss(z, soft, delta=0.5),
                       lambda z: F.huber_loss(z, torch.tensor(soft), delta=0.5)),
    }
    for name, (ours, theirs) in heads.items():
        params = [Value(w.copy()) for w in weights]
        w1, b1, w2, b2 = params
        hidden: Value = (Value(X, requires_grad=False) @ w1 + b1).tanh()
        ours(hidden @ w2 + b2).backward(create_graph=True)
        sum((p.grad * Value(v, requires_grad=False)).sum()
            for p, v in zip(params, vs, strict=True)).backward()
        tparams = [torch.tensor(w, requires_grad=True) for w in weights]
        t1, c1, t2, c2 = tparams
        theirs(torch.tanh(torch.tensor(X) @ t1 + c1) @ t2 + c2).backward(create_graph=True)
        sum((p.grad * torch.tensor(v)).sum() for p, v in zip(tparams, vs, strict=True)).backward()
        for p, t in zip(params, tparams, strict=True):
            got = p.grad.data if isinstance(p.grad, Value) else p.grad
            np.testing.assert_allclose(got, t.grad.detach().numpy(), rtol=1e-9, atol=1e-12,
                                       err_msg=name)
