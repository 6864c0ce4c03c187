"""Value API audit: the named operations (methods.py) and the array functions (arrays.py) at
the edges of their arguments, against numpy (shapes, axes) and PyTorch float64 (values,
gradients, second derivatives).

The first tests each pin a bug found by the audit (each failed before its fix); the last ones,
marked "regression", compare many axis forms and special values with PyTorch and passed already.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any, cast

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from tinygrad_edu import Value, concatenate, stack, where
from tinygrad_edu.engine import gradients

inf, nan = math.inf, math.nan
Fn = Callable[..., Any]


def grad_of(t: torch.Tensor) -> Any:
    """The gradient PyTorch left on the leaf `t`, as an array."""
    assert t.grad is not None
    return t.grad.numpy()


def same(ours: Any, theirs: Any, what: str) -> None:
    ours, theirs = np.asarray(ours, dtype=float), np.asarray(theirs, dtype=float)
    assert ours.shape == theirs.shape, f"{what}: shape {ours.shape}, expected {theirs.shape}"
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-12, equal_nan=True,
                               err_msg=what)


# ---- concatenate(axis=None), numpy's: each part flattened, one 1-D result -----------------


def test_concatenate_with_axis_none_flattens_as_numpy_does() -> None:
    """Before: axis=None was read as axis 0, a (2, 2) result where numpy gives shape (4,)."""
    a, b = Value([[1.0, 2.0]]), Value([[3.0], [4.0]])
    scalar = Value(5.0)
    out = concatenate([a, b, scalar, [6.0]], axis=None)
    same(out.data, np.concatenate([a.data, b.data, [5.0], [6.0]], axis=None), "values")
    out.backward(np.arange(1.0, 7.0))
    same(a.grad, [[1.0, 2.0]], "gradient of a")
    same(b.grad, [[3.0], [4.0]], "gradient of b")
    assert scalar.grad == 5.0
    via_numpy = np.concatenate([a, a], axis=None)
    assert isinstance(via_numpy, Value) and via_numpy.shape == (4,)


@pytest.mark.parametrize("join", [concatenate, stack])
@pytest.mark.parametrize("axis", [(0,), [0], 0.0, "0", True])
def test_concatenate_and_stack_take_one_int_axis(join: Any, axis: Any) -> None:
    """Before: concatenate took axis=(0,) and [0] silently (numpy refuses them); stack gave
    'too many values to unpack (expected 1)' for a tuple of two."""
    name = join.__name__
    with pytest.raises(TypeError, match=rf"^{name}: axis must be one int; got "):
        join([Value([1.0, 2.0]), Value([3.0, 4.0])], axis=axis)
    with pytest.raises(TypeError, match=rf"^{name}: axis must be one int; got \(0, 1\)$"):
        join([Value([1.0, 2.0]), Value([3.0, 4.0])], axis=(0, 1))


# ---- numpy's functions given a Value ----------------------------------------------------------


@pytest.mark.parametrize("call", [
    lambda v: np.transpose(v, (1, 0, 2)),
    lambda v: np.transpose(v, axes=[1, 0, 2]),
    lambda v: np.transpose(v, (-2, 0, -1)),
])
def test_np_transpose_with_axes_runs_the_values_transpose(call: Any) -> None:
    """Before: TypeError 'NamedOperations.transpose() got an unexpected keyword argument
    'axes''."""
    data = np.arange(24.0).reshape(2, 3, 4)
    v = Value(data)
    out = call(v)
    assert isinstance(out, Value)
    same(out.data, np.transpose(data, (1, 0, 2)), "values")
    upstream = np.linspace(-1.0, 1.0, 24).reshape(3, 2, 4)
    out.backward(upstream)
    same(v.grad, np.transpose(upstream, (1, 0, 2)), "gradient")


# ---- var and std ------------------------------------------------------------------------------


@pytest.mark.parametrize("ddof", [0, 1])
def test_var_and_std_overflow_to_inf_as_numpy_and_pytorch(ddof: int) -> None:
    """The variance of [1e308, −1e308] is 1e616: inf in float64 (numpy, PyTorch). Before: nan,
    since the first element subtracted for accuracy overflowed (−1e308 − 1e308 = −inf). The
    other row, near 1e8, keeps the accuracy that shift gives. (Each row is compared with
    PyTorch on its own: PyTorch's var along dim=1 of both rows gives −inf.)"""
    data = np.array([[1e308, -1e308], [1e8 + 1.0, 1e8 + 2.0]])
    upstream = np.array([0.25, 2.0])  # (0.25: the gradient 2(x − mean)/(n − ddof) is finite)
    for op in ("var", "std"):
        x = Value(data)
        out = getattr(x, op)(axis=1, ddof=ddof)
        out.backward(upstream)
        with np.errstate(over="ignore"):
            same(out.data, getattr(np, op)(data, axis=1, ddof=ddof), f"{op}: values")
        for row in range(2):
            t = torch.tensor(data[row], dtype=torch.float64, requires_grad=True)
            t_out = getattr(t, op)(correction=ddof)
            (upstream[row] * t_out).backward()
            same(out.data[row], t_out.item(), f"{op}: value of row {row}")
            same(x.grad[row], grad_of(t), f"{op}: gradient of row {row}")
    assert Value([1e308, -1e308]).var().data == inf
    assert Value([1e308, 1e308]).var().data == 0.0  # (PyTorch: inf, its mean overflows)


# ---- keepdims ----------------------------------------------------------------------------------


@pytest.mark.parametrize("op", ["sum", "mean", "max", "min", "logsumexp", "var", "argmax",
                                "argmin"])
@pytest.mark.parametrize("keepdims", [np.float64, None, "no", [1]])
def test_keepdims_that_is_not_a_flag_is_refused(op: str, keepdims: Any) -> None:
    """``x.mean(0, np.float64)``, numpy's ``mean(a, axis, dtype)`` order: before, the dtype
    was read as keepdims=True (and None as False), silently; numpy and PyTorch refuse both."""
    x = Value(np.arange(6.0).reshape(2, 3))
    method = getattr(x, op)
    with pytest.raises(TypeError, match=rf"^{op}: keepdims must be True or False; got "):
        if op == "var":
            method(0, 0, keepdims)
        else:
            method(0, keepdims)
    for flag in (np.True_, 1):  # numpy's bool and ints still do
        result = getattr(x, op)(axis=1, keepdims=flag)
        assert np.shape(getattr(result, "data", result)) == (2, 1)


# ---- regression: reductions against PyTorch, axis forms and special values --------------------

REDUCTIONS: dict[str, tuple[Fn, Fn]] = {  # ours(x, axis, keepdims), PyTorch's(t, dim, keepdim)
    "sum": (lambda x, a, k: x.sum(a, k), lambda t, d, k: t.sum(d, k)),
    "mean": (lambda x, a, k: x.mean(a, k), lambda t, d, k: t.mean(d, k)),
    "max": (lambda x, a, k: x.max(a, k), lambda t, d, k: t.amax(d, k)),
    "min": (lambda x, a, k: x.min(a, k), lambda t, d, k: t.amin(d, k)),
    "logsumexp": (lambda x, a, k: x.logsumexp(a, k), lambda t, d, k: t.logsumexp(d, k)),
    "var": (lambda x, a, k: x.var(a, 1, k), lambda t, d, k: t.var(d, correction=1, keepdim=k)),
    "std": (lambda x, a, k: x.std(a, 0, k), lambda t, d, k: t.std(d, correction=0, keepdim=k)),
}


@st.composite
def arrays_and_axes(draw: st.DrawFn) -> tuple[Any, Any, Any]:
    """An array (with ties and ±inf, nan), and an axis as a user writes it: an int (maybe
    negative), a tuple or a list of distinct axes; and the same as PyTorch's dim."""
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=3, min_side=2, max_side=3))
    x = draw(hnp.arrays(np.float64, shape, elements=st.sampled_from(
        [-1.0, 0.0, 0.5, 2.0, 2.0, -3.0, inf, -inf, nan])))
    ndim = len(shape)
    axes = draw(st.lists(st.integers(-ndim, ndim - 1), min_size=1, max_size=ndim,
                         unique_by=lambda a: a % ndim))
    form = draw(st.sampled_from(["int", "tuple", "list"]))
    axis = axes[0] if form == "int" else tuple(axes) if form == "tuple" else list(axes)
    return x, axis, axes[0] if form == "int" else tuple(axes)


@pytest.mark.parametrize("name", sorted(REDUCTIONS))
@given(case=arrays_and_axes(), keepdims=st.booleans())
def test_regression_reductions_match_pytorch_for_every_axis_form(
        name: str, case: tuple[Any, Any, Any], keepdims: bool) -> None:
    """Regression (passed before the audit): values and gradients, ties split evenly."""
    x, axis, dim = case
    ours, theirs = REDUCTIONS[name]
    v = Value(x)
    out = ours(v, axis, keepdims)
    upstream = np.linspace(-1.0, 2.0, max(out.size, 1)).reshape(out.shape)
    out.backward(upstream if out.shape else float(upstream))
    t = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    t_out = theirs(t, dim, keepdims)
    t_out.backward(torch.tensor(upstream, dtype=torch.float64))
    same(out.data, t_out.detach().numpy(), f"{name}: values")
    grad, t_grad = np.asarray(v.grad), grad_of(t)
    # where PyTorch's gradient is ±inf, ours is nan: both say the input was not finite
    t_grad = np.where(np.isinf(t_grad) & np.isnan(grad), nan, t_grad)
    same(grad, t_grad, f"{name}: gradients")


@pytest.mark.parametrize("name", ["var", "std", "max", "logsumexp", "softmax", "clip"])
@pytest.mark.parametrize("data", [[1.0, 2.0, 4.0], [2.0, 2.0, 2.0], [1.0, 3.0, 3.0]])
def test_regression_second_derivatives_match_pytorch(name: str, data: list[float]) -> None:
    """Regression: Hessian-vector products through create_graph, at ties and constants too."""
    weights = [1.0, 2.0, 3.0]
    cases: dict[str, tuple[Fn, Fn]] = {
        "var": (lambda x: x.var(ddof=1), lambda t: t.var()),
        "std": (lambda x: x.std(ddof=1), lambda t: t.std()),
        "max": (lambda x: (x * x).max(), lambda t: (t * t).amax()),
        "logsumexp": (lambda x: x.logsumexp(), lambda t: t.logsumexp(0)),
        "softmax": (lambda x: (x.softmax() * weights).sum(),
                    lambda t: (t.softmax(0) * torch.tensor(weights, dtype=torch.float64)).sum()),
        "clip": (lambda x: (x * x).clip(1.0, 9.0).sum(), lambda t: (t * t).clamp(1.0, 9.0).sum()),
    }
    ours, theirs = cases[name]
    u = np.array([1.0, -2.0, 0.5])
    x = Value(data)
    (g,) = gradients(ours(x), [x], create_graph=True)
    (h,) = gradients((g * u).sum(), [x])
    t = torch.tensor(data, dtype=torch.float64, requires_grad=True)
    (t_g,) = torch.autograd.grad(theirs(t), t, create_graph=True)
    (t_h,) = torch.autograd.grad((t_g * torch.tensor(u)).sum(), t)
    same(g.data, t_g.detach().numpy(), f"{name}: gradient")
    same(h, t_h.numpy(), f"{name}: Hessian-vector product")


SHAPE_ARRAYS: list[tuple[str, Callable[[Any], Any], tuple[int, ...]]] = [
    ("reshape", lambda v: v.reshape(np.array([3, 2])), (3, 2)),
    ("np.reshape", lambda v: np.reshape(v, np.array([3, 2])), (3, 2)),
    ("reshape -1", lambda v: v.reshape(np.array([-1], dtype=np.int32)), (6,)),
    ("transpose", lambda v: v.transpose(np.array([1, 0])), (3, 2)),
    ("broadcast_to", lambda v: np.broadcast_to(v, np.array([2, 2, 3])), (2, 2, 3)),
    ("Value.broadcast_to", lambda v: v.broadcast_to(cast(Any, np.array([2, 2, 3]))) if isinstance(
        v, Value) else np.broadcast_to(v, (2, 2, 3)), (2, 2, 3)),
]


@pytest.mark.parametrize(("name", "op", "shape"), SHAPE_ARRAYS, ids=[c[0] for c in SHAPE_ARRAYS])
def test_an_integer_array_is_a_shape_or_axes_as_in_numpy(
        name: str, op: Callable[[Any], Any], shape: tuple[int, ...]) -> None:
    """numpy takes a 1-D integer array as a shape or as axes; reshape refused it saying that
    6 elements do not fit shape (array([3, 2]),), and transpose and broadcast_to refused it."""
    data = np.arange(6.0).reshape(2, 3)
    out = op(Value(data))
    assert out.shape == shape
    np.testing.assert_array_equal(out.data, op(data))


def test_a_shape_of_floats_is_named_as_such() -> None:
    """(It was "cannot reshape ... (6 elements) into shape (2.0, 3)", as if a count did not
    fit; numpy's TypeError says the float is no integer.)"""
    with pytest.raises(TypeError, match=r"^reshape: a shape is ints .*got \(2\.0, 3\)"):
        Value(np.zeros((2, 3))).reshape((2.0, 3))


@pytest.mark.parametrize("data", [3.5, -0.0, [1.0, 2.5], [[1.0, -2.0], [3.0, 4.0]],
                                  np.zeros((2, 0, 3)), [[math.inf, math.nan]]],
                         ids=["scalar", "-0.0", "vector", "matrix", "empty", "inf and nan"])
def test_tolist_gives_python_floats_as_torch_does(data: Any) -> None:
    ours = Value(data).tolist()
    theirs = torch.tensor(data, dtype=torch.float64).tolist()
    assert repr(ours) == repr(theirs)  # (the same nesting, floats, signs of zeros, nan)
    leaves = [ours] if not isinstance(ours, list) else ours
    while leaves and isinstance(leaves[0], list):
        leaves = [x for row in leaves for x in row]
    assert all(type(x) is float for x in leaves)


@given(data=st.data())
def test_swapaxes_is_numpys_and_its_gradient_torchs(data: st.DataObject) -> None:
    shape = data.draw(hnp.array_shapes(min_dims=1, max_dims=4, max_side=3), label="shape")
    ndim = len(shape)
    axis1, axis2 = (data.draw(st.integers(-ndim, ndim - 1), label=f"axis{k}") for k in (1, 2))
    x = np.arange(float(np.prod(shape))).reshape(shape)
    v = Value(x)
    swapped = v.swapaxes(axis1, axis2)
    assert np.array_equal(swapped.data, np.swapaxes(x, axis1, axis2))
    through_numpy = np.swapaxes(v, axis1, axis2)  # (numpy's function runs the Value's)
    assert isinstance(through_numpy, Value) and through_numpy.shape == swapped.shape
    g = np.cos(np.arange(swapped.data.size)).reshape(swapped.shape)
    swapped.backward(g)
    t = torch.tensor(x, requires_grad=True)
    t.swapaxes(axis1, axis2).backward(torch.tensor(g))
    assert np.array_equal(v.grad, grad_of(t))


@pytest.mark.parametrize(("axes", "error", "said"), [
    ((0, 2), ValueError, "axis 2 is out of range for a Value of shape (2, 3)"),
    ((-3, 0), ValueError, "axis -3 is out of range"),
    ((0, 1.0), TypeError, "axes must be ints; got 1.0"),
    ((True, 0), TypeError, "axes must be ints; got True"),
])
def test_swapaxes_names_a_wrong_axis(axes: tuple[Any, Any], error: type[Exception],
                                     said: str) -> None:
    with pytest.raises(error, match=re.escape(said)):
        Value(np.zeros((2, 3))).swapaxes(*axes)


@pytest.mark.parametrize("label", [5, None, b"x", ["x"]])
def test_a_label_that_is_no_string_is_refused_when_made_and_when_set(label: Any) -> None:
    """The constructor refused it, but `.label = 5` was taken, and the pictures then failed
    deep inside ('int' object has no attribute 'replace')."""
    message = rf"^label must be a string; got .*\(type {type(label).__name__}\)$"
    with pytest.raises(TypeError, match=message):
        Value(2.0, label=label)
    v = Value(2.0, label="v")
    with pytest.raises(TypeError, match=message):
        v.label = label
    assert v.label == "v"
    v.label = "w"
    assert (v.label, (v * 2).label) == ("w", "")


@pytest.mark.parametrize("index", [[np.inf], [1e20], [-np.inf, 0.0], [2.0**60]])
def test_an_index_of_floats_too_large_for_an_int_is_refused_as_given(index: list[float]) -> None:
    """A Value of indices holds floats, taken when whole: inf (whole for np.round) and 1e20
    became the smallest intp, and the error named an index never given (-9223372036854775808)."""
    far = next(i for i in index if abs(i) > 2.0**53)
    with pytest.raises(IndexError, match=rf"whole number of at most 2\*\*53 in size; got "
                                         rf"{re.escape(repr(far))}$"):
        Value([1.0, 2.0])[Value(index)]
    assert np.array_equal(Value([1.0, 2.0, 3.0])[Value([2.0, 0.0])].data, [3.0, 1.0])


@pytest.mark.parametrize("index", [
    lambda x: Value([1.0, 0.0, 1.0, 1.0]),  # a mask as a Value
    lambda x: (x - 25.0).step(),  # a mask the lecture's step makes
    lambda x: np.array([0.0, 1.0, 1.0, 0.0]),
    lambda x: (Ellipsis, Value([1.0, 0.0, 1.0, 1.0])),
])
def test_a_mask_of_floats_is_refused_not_read_as_positions(index: Any) -> None:
    """Floats are positions: x[Value(mask)] gave [20, 10, 20, 20] for the mask
    [True, False, True, True], and sent the gradient to the wrong elements."""
    x = Value([10.0, 20.0, 30.0, 40.0])
    with pytest.raises(TypeError, match=r"an index of floats, all 0 and 1, .* a mask, or "
                                        r"positions\? .*\(x\[m\.data > 0\]\)"):
        x[index(x)]
    np.testing.assert_array_equal(x[Value([1.0, 0.0, 1.0, 1.0]).data > 0].data, [10, 30, 40])
    np.testing.assert_array_equal(x[Value([0.0, 0.0])].data, [10.0, 10.0])  # (positions: not
    # the shape of the axis)


# ---- in place: ``p -= lr * p.grad`` ---------------------------------------------------------


def test_a_parameter_updated_in_place_inside_no_grad_trains_the_model() -> None:
    """`p -= lr * p.grad` rebound the loop's name only (a Value had no in-place -=): the
    model's parameters never changed, inside no_grad() or out, and no error said so."""
    from tinygrad_edu import no_grad
    from tinygrad_edu.datasets import logic_gate
    from tinygrad_edu.nn import MLP, mse_loss

    X, y = logic_gate("and")
    models = [MLP(2, [3, 1], seed=0), MLP(2, [3, 1], seed=0)]
    for _ in range(30):
        for k, model in enumerate(models):
            model.zero_grad()
            mse_loss(model(X)[:, 0], y).backward()
            with no_grad():
                for p in model.parameters():
                    if k == 0:
                        p -= 0.1 * p.grad
                    else:
                        p.data -= 0.1 * p.grad
    first, second = (model.state_dict() for model in models)
    assert all(np.array_equal(first[name], second[name]) for name in first)
    assert mse_loss(models[0](X)[:, 0], y).data < 0.1


def test_in_place_operators_outside_no_grad() -> None:
    """Recorded: a parameter (a leaf that needs a gradient) changed by a number is refused,
    as PyTorch refuses it; a sum built with += is recorded (a new Value); a computed Value
    is replaced by the new one; a constant changes in place."""
    w = Value([1.0, 2.0], label="w")
    with pytest.raises(RuntimeError, match=r"^`-=` on w \(shape \(2,\)\), a leaf that needs a "
                                           r"gradient, while recording .* `p.data -= \.\.\.`"):
        w -= 0.1
    total = Value(0.0)
    for k in range(3):
        total += w[0] * float(k)
    total.backward()
    assert total.data == 3.0 and np.array_equal(w.grad, [3.0, 0.0])
    h = w * 2.0
    kept = h
    h -= 1.0
    assert h is not kept and np.array_equal(h.data, [1.0, 3.0])
    assert np.array_equal(kept.data, [2.0, 4.0])
    c = Value([1.0, 2.0], requires_grad=False)
    held = c
    c *= 3.0
    c /= 0.0
    assert c is held and np.array_equal(c.data, [math.inf, math.inf])


def test_in_place_inside_no_grad_keeps_the_value_and_its_shape() -> None:
    """The Value stays the one a model holds; its shape cannot change; a graph that read its
    old data refuses backward(), as after ``.data -= ...``; a scalar stays a float."""
    from tinygrad_edu import no_grad

    w, s = Value([1.0, 2.0], label="w"), Value(3.0)
    y = (w * w).sum()
    spread = Value(np.ones(3)).broadcast_to((2, 3))  # (recorded: a view of its operand's)
    x = Value(np.ones((2, 3)))
    (x * Value(np.ones((3, 2))).T).sum()  # (x read by a rule: sealed)
    detached = x.T.detach()
    with no_grad():
        held = w
        w -= Value([1.0, 1.0])
        s += 1
        assert w is held and np.array_equal(w.data, [0.0, 1.0])
        assert type(s.data) is float and s.data == 4.0
        with pytest.raises(ValueError, match=r"`\+=` in place cannot change the shape of w "
                                             r"\(shape \(2,\)\) to \(3, 2\)"):
            w += np.ones((3, 2))
        with pytest.raises(TypeError, match="the operand of"):
            w += "a"
        with pytest.raises(ValueError, match=r"its array is a view of another Value's, "
                                             r"which a recorded graph reads"):
            detached -= 1.0  # (numpy's bare "output array is read-only")
        with pytest.raises(ValueError, match=r"whose elements share memory"):
            spread += np.array([[1.0, 1.0, 1.0], [5.0, 5.0, 5.0]])  # (order-dependent)
    with pytest.raises(RuntimeError, match=r"the data of w \(shape \(2,\)\) changed"):
        y.backward()


def test_micrograds_in_place_operators_rebind_as_micrograds() -> None:
    """micrograd's Value has no in-place operator: ``p -= x`` makes p name ``p - x``."""
    from tinygrad_edu.micrograd.engine import Value as MicrogradValue

    p = MicrogradValue(2.0)
    held = p
    p -= 1.0
    assert p is not held and (p.data, held.data) == (1.0, 2.0)


def test_equality_with_a_number_compares_the_data_as_the_other_comparisons_do() -> None:
    """`v == 2` was identity (False) while `v <= 2` compared the data: a perceptron's
    ``prediction.step() == label`` was always False, silently. Between two Values, == stays
    identity, so Values are still dictionary keys and found in lists."""
    v = Value(2.0)
    assert (v == 2, v != 2, Value(0.7).step() == 1, 2.0 in [Value(2.0)]) == (
        True, False, True, True)
    assert np.array_equal(Value([1.0, 2.0, 3.0]) == 2, [False, True, False])
    assert np.array_equal(Value([1.0, 2.0]) != np.array([1.0, 0.0]), [False, True])
    w = Value(2.0)
    assert (v == v, v == w, v != w, v == None, v == "2") == (  # noqa: E711
        True, False, True, False, False)
    assert {v: 1, w: 2}[w] == 2 and [w, v].index(v) == 1
    objects = np.array([v, w], dtype=object)  # (each object compared as numpy does: by ==,
    assert w in objects and np.array_equal(objects == w, [False, True])  # identity here)
    assert np.array_equal(objects != w, [True, False]) and np.array_equal(w == objects,
                                                                         [False, True])


def test_std_names_itself_and_reshape_names_the_order_it_takes() -> None:
    """std's checks said "var:"; reshape(order="F") gave Python's "unexpected keyword"."""
    with pytest.raises(ValueError, match=r"^std: ddof=3 needs more than 3 elements"):
        Value(np.arange(6.0).reshape(2, 3)).std(axis=1, ddof=3)
    with pytest.raises(ValueError, match=r"^reshape: only order='C' .* got order='F'"):
        Value(np.arange(6.0)).reshape(3, 2, order="F")
    assert Value(np.arange(6.0)).reshape(3, 2, order="C").shape == (3, 2)


def test_a_ragged_condition_of_where_is_named() -> None:
    """numpy's "inhomogeneous shape" came out bare, naming neither where nor the condition."""
    with pytest.raises(ValueError, match=r"^where: the condition must be a rectangular"):
        where([[1, 0], [1]], Value([[1.0, 2.0], [3.0, 4.0]]), 0.0)


def test_a_recorded_gradient_is_shown_by_its_numbers_and_its_update_explained() -> None:
    """A scalar's repr nested the recorded gradient (grad=Value(data=12.0, grad=0.0)) where a
    tensor's shows its numbers; ``w.data -= lr * w.grad`` after create_graph spoke only of
    ``array += v``."""
    x = Value(2.0)
    (x**3).backward(create_graph=True)
    assert repr(x) == "Value(data=2.0, grad=12.0)"
    w = Value([1.0, 2.0])
    (w**3).sum().backward(create_graph=True)
    with pytest.raises(TypeError, match=r"recorded by backward\(create_graph=True\) is a Value "
                                        r"too: its numbers are \.grad\.data"):
        w.data -= 0.1 * w.grad


@pytest.mark.parametrize(("index", "shape"), [((), ()), (Ellipsis, ()), (None, (1,)),
                                              ((None, None), (1, 1)), ((None, Ellipsis), (1,))])
def test_a_scalar_takes_the_indices_a_numpy_scalar_takes(index: Any, shape: tuple[int, ...]
                                                         ) -> None:
    """v[()], v[...] and v[None] were refused ("a scalar Value cannot be indexed"), where
    numpy's scalars and PyTorch's 0-d tensors take them (generic code, on x.sum())."""
    v = Value(2.0)
    out = v[index]
    assert out.shape == shape == np.shape(np.array(2.0)[index])
    assert np.asarray(out.data).tolist() == np.asarray(np.array(2.0)[index]).tolist()
    (out.sum() * 3.0).backward()
    assert v.grad == 3.0
    with pytest.raises(TypeError, match=r"cannot be indexed with 0; only with \(\), \.\.\. or "):
        v[0]
    with pytest.raises(TypeError, match=r"cannot be indexed with array\(\[0, 1\]\)"):
        v[np.array([0, 1])]  # (numpy's "truth value ... is ambiguous", from a count of ...)
