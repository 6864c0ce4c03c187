"""The ops past the lecture (issue #14): sin cos log1p expm1, clip, maximum/minimum, min,
argmax/argmin, squeeze/unsqueeze/flatten, broadcast_to, detach.

Their gradients are checked with every other primitive's, from the registry (test_ops,
test_oracles, test_fast, test_edges, test_hessian); here: PyTorch float64 gives the same values
and gradients, the index and shape methods follow numpy and PyTorch, bad arguments are refused
with a message naming what was given, and the graphs name each node well.
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Callable
from typing import Any, cast

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from test_ops import TIGHT  # tests/ is on sys.path (pytest)

import tinygrad_edu
from tinygrad_edu import Value, broadcast_to, maximum, minimum
from tinygrad_edu.data import Array, data_of
from tinygrad_edu.engine import gradients
from tinygrad_edu.testing import gradcheck

inf, nan = math.inf, math.nan


# the special values PyTorch and we must agree on. Not subnormals: PyTorch's vectorised log1p
# flushes log1p(5e-324) to 0, where math and numpy give 5e-324. Not a < -5 for expm1:
# PyTorch's slope is expm1(a) + 1, which loses digits there (all of them below -37), ours eᵃ
SPECIALS = [0.0, -0.0, inf, -inf, nan, 1e308, -1e308, 1.0, -1.0, 0.5, -0.5, 2.0, 1e-300,
            -0.9999999999, 700.0, -3.0, 1e4, 3e3]


def finite(low: float = -5.0, high: float = 5.0) -> st.SearchStrategy[float]:
    return st.floats(low, high, allow_nan=False, allow_infinity=False)


def matching(x: Any, expected: Any, what: str) -> None:
    """Equal to PyTorch's up to a few ulps, nan where it has nan, ±inf where it has ±inf; a
    subnormal result may be 0 in PyTorch (its log1p(5e-324) is 0, numpy's the 5e-324 exact)."""
    np.testing.assert_allclose(np.asarray(x, dtype=np.float64), expected, rtol=1e-13,
                               atol=np.finfo(np.float64).tiny, equal_nan=True, err_msg=what)


# ---- against PyTorch float64 ----------------------------------------------------------------

UNARY: dict[str, tuple[Callable[[Value], Value], Callable[[Any], Any]]] = {
    "sin": (lambda v: v.sin(), lambda t: t.sin()),
    "cos": (lambda v: v.cos(), lambda t: t.cos()),
    "log1p": (lambda v: v.log1p(), lambda t: t.log1p()),
    "expm1": (lambda v: v.expm1(), lambda t: t.expm1()),
    "clip(-1, 1)": (lambda v: v.clip(-1.0, 1.0), lambda t: t.clamp(-1.0, 1.0)),
    "clip(min=0.5)": (lambda v: v.clip(min=0.5), lambda t: t.clamp(min=0.5)),
    "clip(max=-0.5)": (lambda v: v.clip(max=-0.5), lambda t: t.clamp(max=-0.5)),
    "min(axis=-1)": (lambda v: v.min(-1), lambda t: t.amin(-1)),
    "min()": (lambda v: v.min(), lambda t: t.amin()),
    "squeeze": (lambda v: v.squeeze(), lambda t: t.squeeze()),
    "unsqueeze(1)": (lambda v: v.unsqueeze(1), lambda t: t.unsqueeze(1)),
    "flatten": (lambda v: v.flatten(), lambda t: t.flatten()),
    "broadcast_to": (lambda v: v.broadcast_to((2, *v.shape)),
                     lambda t: t.broadcast_to((2, *t.shape))),
}
BINARY = {
    "maximum": (maximum, "maximum"),
    "minimum": (minimum, "minimum"),
}


def with_torch(name: str, x: Any) -> tuple[Any, Any, Any, Any]:
    """(our value, our gradient, PyTorch's value, PyTorch's gradient) of sum(f(x) · u)."""
    torch = importlib.import_module("torch")
    ours, theirs = UNARY[name]
    v = Value(x)
    out = ours(v)
    upstream = np.linspace(-1.5, 2.0, out.size).reshape(out.shape)
    out.backward(upstream if out.shape else float(upstream))
    t = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    t_out = theirs(t)
    t_out.backward(torch.tensor(upstream, dtype=torch.float64))
    return out.data, v.grad, t_out.detach().numpy(), t.grad.numpy()


@pytest.mark.parametrize("name", sorted(UNARY))
def test_values_and_gradients_match_pytorch_at_special_points(name: str) -> None:
    x = np.array([SPECIALS, SPECIALS[::-1]]).T if name.startswith(("min", "squeeze")) \
        else np.array(SPECIALS)
    if name == "squeeze":
        x = x[:, None, :1]
    ours, our_grad, theirs, their_grad = with_torch(name, x)
    matching(ours, theirs, f"{name}: values")
    matching(our_grad, their_grad, f"{name}: gradients")


@pytest.mark.parametrize("name", sorted(UNARY))
@given(x=hnp.arrays(np.float64, hnp.array_shapes(min_dims=1, max_dims=3, max_side=4),
                    elements=st.one_of(finite(), st.sampled_from([-1.0, 1.0, 0.5, -0.5]))))
def test_values_and_gradients_match_pytorch(name: str, x: Any) -> None:
    """Random arrays, with the bounds of clip and ties of min (ties split evenly, as amin)."""
    if name == "log1p":
        x = np.abs(x)
    ours, our_grad, theirs, their_grad = with_torch(name, x)
    matching(ours, theirs, f"{name}: values")
    matching(our_grad, their_grad, f"{name}: gradients")


@pytest.mark.parametrize("name", sorted(BINARY))
@given(data=st.data())
def test_maximum_and_minimum_match_pytorch(name: str, data: st.DataObject) -> None:
    """Broadcast operands, with ties (a gradient split ½/½ in PyTorch too) and specials."""
    torch = importlib.import_module("torch")
    ours, theirs = BINARY[name]
    shapes = data.draw(hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=2, max_side=3))
    elements = st.sampled_from([-1.0, 0.0, 0.5, 2.0, inf, -inf, nan])
    a, b = (data.draw(hnp.arrays(np.float64, s, elements=elements)) for s in shapes.input_shapes)
    va, vb = Value(a), Value(b)
    out = ours(va, vb)
    upstream = np.linspace(-1.0, 3.0, out.size).reshape(out.shape)
    out.backward(upstream if out.shape else float(upstream))
    ta, tb = (torch.tensor(x, dtype=torch.float64, requires_grad=True) for x in (a, b))
    t_out = getattr(torch, theirs)(ta, tb)
    t_out.backward(torch.tensor(upstream, dtype=torch.float64))
    matching(out.data, t_out.detach().numpy(), "values")
    matching(va.grad, ta.grad.numpy(), "gradient of a")
    matching(vb.grad, tb.grad.numpy(), "gradient of b")


def test_the_kink_conventions_are_pytorchs_where_the_issue_thought_otherwise() -> None:
    """clamp: slope 1 exactly at both bounds; maximum/minimum: ties split ½/½ in PyTorch too."""
    torch = importlib.import_module("torch")
    t = torch.tensor([-1.0, 1.0], dtype=torch.float64, requires_grad=True)
    t.clamp(-1.0, 1.0).sum().backward()
    x = Value([-1.0, 1.0])
    x.clip(-1.0, 1.0).sum().backward()
    assert x.grad.tolist() == t.grad.tolist() == [1.0, 1.0]
    ta, tb = (torch.tensor(2.0, dtype=torch.float64, requires_grad=True) for _ in range(2))
    torch.maximum(ta, tb).backward()
    a, b = Value(2.0), Value(2.0)
    maximum(a, b).backward()
    assert (a.grad, b.grad) == (ta.grad.item(), tb.grad.item()) == (0.5, 0.5)


# ---- argmax and argmin: numpy's -------------------------------------------------------------


@st.composite
def arrays_and_axis(draw: st.DrawFn) -> tuple[Any, Any, bool]:
    shape = draw(hnp.array_shapes(min_dims=0, max_dims=3, max_side=4))
    elements = st.sampled_from([0.0, 1.0, -2.0, 3.5, nan]) if draw(st.booleans()) else finite()
    x = draw(hnp.arrays(np.float64, shape, elements=elements))  # ties, nan
    axis = draw(st.sampled_from([None, *range(-len(shape), len(shape))]))
    return x, axis, draw(st.booleans())


@given(case=arrays_and_axis())
def test_argmax_and_argmin_are_numpys(case: tuple[Any, Any, bool]) -> None:
    x, axis, keepdims = case
    v = Value(x if x.ndim else float(x))
    for ours, theirs in ((v.argmax, np.argmax), (v.argmin, np.argmin)):
        expected = theirs(x, axis=axis, keepdims=keepdims)
        got = ours(axis, keepdims) if axis is not None or keepdims else ours()
        if np.ndim(expected) == 0:
            assert type(got) is int and got == int(expected)
        else:
            assert isinstance(got, np.ndarray) and got.dtype.kind == "i"
            np.testing.assert_array_equal(got, expected, strict=True)


def test_argmax_carries_no_gradient_and_names_bad_axes() -> None:
    v = Value([[1.0, 5.0], [7.0, 2.0]])
    assert v.argmax() == 2 and v.argmin() == 0 and not isinstance(v.argmax(0), Value)
    with pytest.raises(TypeError, match=r"argmax: axis must be an int or None; got \(0, 1\)"):
        v.argmax(axis=(0, 1))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"argmin: axis 2 is out of range .* 2 dimensions"):
        v.argmin(2)
    with pytest.raises(ValueError, match=r"argmax\(\) of an empty Value \(shape \(0,\)\)"):
        Value(np.zeros(0)).argmax()
    with pytest.raises(ValueError, match=r"argmin\(\) of an empty Value \(shape \(2, 0\)\) "
                                         "along axis 1"):
        Value(np.zeros((2, 0))).argmin(1)


@pytest.mark.parametrize("op", ["max", "min", "argmax", "argmin"])
def test_an_extremum_over_full_axes_of_an_empty_value_is_empty_as_in_numpy(op: str) -> None:
    """max over axis 1 of a (0, 3) Value: three maxima for each of no rows, an empty result
    (numpy's and PyTorch's), where it was refused; over the empty axis there is none."""
    data = np.zeros((0, 3))
    got = getattr(Value(data), op)(axis=1)
    expected = getattr(np, op if op.startswith("arg") else f"a{op}")(data, axis=1)
    assert np.shape(data_of(got)) == expected.shape == (0,)
    if not op.startswith("arg"):
        x = Value(data)
        getattr(x, op)(axis=-1, keepdims=True).sum().backward()
        assert x.grad.shape == (0, 3)
    with pytest.raises(ValueError, match=rf"^{op}\(\) of an empty Value \(shape \(0, 3\)\) along "
                                         "axis 0: there is no"):
        getattr(Value(data), op)(axis=0)


# ---- squeeze, unsqueeze, flatten, broadcast_to: numpy's and PyTorch's shapes, reshape's graph


@given(shape=hnp.array_shapes(min_dims=0, max_dims=4, min_side=1, max_side=3), data=st.data())
def test_shape_methods_agree_with_numpy_and_pytorch(shape: tuple[int, ...],
                                                    data: st.DataObject) -> None:
    torch = importlib.import_module("torch")
    x = np.arange(float(math.prod(shape))).reshape(shape)
    v, t = Value(x if shape else float(x)), torch.tensor(x)
    ndim = len(shape)
    assert v.squeeze().shape == np.squeeze(x).shape == tuple(t.squeeze().shape)
    ones = tuple(i for i, n in enumerate(shape) if n == 1)
    if ones:
        axis = data.draw(st.sampled_from(ones), label="axis of length 1")
        assert v.squeeze(axis).shape == np.squeeze(x, axis).shape == tuple(t.squeeze(axis).shape)
        assert v.squeeze(ones).shape == np.squeeze(x, ones).shape
    at = data.draw(st.integers(-ndim - 1, ndim), label="unsqueeze at")
    assert v.unsqueeze(at).shape == np.expand_dims(x, at).shape == tuple(t.unsqueeze(at).shape)
    start = data.draw(st.integers(-max(ndim, 1), max(ndim, 1) - 1), label="start_dim")
    end = data.draw(st.integers(-max(ndim, 1), max(ndim, 1) - 1), label="end_dim")
    if (start % max(ndim, 1)) <= (end % max(ndim, 1)):
        flat = v.flatten(start, end)
        assert flat.shape == tuple(t.flatten(start, end).shape)
        np.testing.assert_array_equal(flat.data, np.reshape(x, flat.shape))
    else:
        with pytest.raises(ValueError, match=r"flatten: start_dim .* comes after end_dim"):
            v.flatten(start, end)
    target = data.draw(hnp.broadcastable_shapes(shape, max_dims=4).map(
        lambda s: np.broadcast_shapes(s, shape)), label="target")
    np.testing.assert_array_equal(v.broadcast_to(target).data, np.broadcast_to(x, target))
    np.testing.assert_array_equal(broadcast_to(x, target).data, np.broadcast_to(x, target))


@given(shape=hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=3), data=st.data())
def test_shape_methods_pass_gradients_back(shape: tuple[int, ...], data: st.DataObject) -> None:
    x = data.draw(hnp.arrays(np.float64, shape, elements=finite()))
    target = data.draw(hnp.broadcastable_shapes(shape, max_dims=3).map(
        lambda s: np.broadcast_shapes(s, shape)), label="target")
    at = data.draw(st.integers(-len(shape) - 1, len(shape)), label="unsqueeze at")
    for f in (lambda v: v.squeeze(), lambda v: v.unsqueeze(at), lambda v: v.flatten(),
              lambda v: v.flatten(-1), lambda v: v.broadcast_to(target)):
        assert gradcheck(f, x, **TIGHT)
        assert gradcheck(lambda v, f=f: (f(v) * f(v)).sum(), x, order=2, **TIGHT)


@pytest.mark.parametrize(("call", "error", "message"), [
    (lambda v: v.squeeze(1), ValueError,
     r"squeeze: axis 1 of a Value of shape \(2, 3, 1\) has length 3, not 1"),
    (lambda v: v.squeeze(3), ValueError, "squeeze: axis 3 is out of range .* 3 dimensions"),
    (lambda v: v.unsqueeze(4), ValueError, "unsqueeze .*: axis 4 is out of range"),
    (lambda v: v.unsqueeze((0, 1)), TypeError, r"unsqueeze: axis must be an int; got \(0, 1\)"),
    (lambda v: v.flatten(3), ValueError,
     r"flatten: start_dim 3 is out of range for a Value of shape \(2, 3, 1\)"),
    (lambda v: v.flatten(0, 1.5), TypeError, "flatten: end_dim must be an int; got 1.5"),
    (lambda v: v.flatten(2, 1), ValueError, "flatten: start_dim 2 comes after end_dim 1"),
    (lambda v: v.broadcast_to((3, 3)), ValueError,
     r"broadcast_to: a Value of shape \(2, 3, 1\) cannot be broadcast to shape \(3, 3\)"),
    (lambda v: v.broadcast_to((2, -3, 1)), TypeError,
     r"shape must be a tuple of non-negative ints; got \(2, -3, 1\)"),
    (lambda v: v.broadcast_to("big"), TypeError, "got 'big'"),
    (lambda v: v.clip(1.0, -1.0), ValueError, "clip: min 1 is greater than max -1"),
    (lambda v: v.clip(), ValueError, r"clip: give min, max or both \(both are None\)"),
    (lambda v: v.clip(nan, 1.0), ValueError, "clip: min is nan"),
    (lambda v: v.clip(max=10**400), ValueError, r"clip: max 10000.*\.\.\. is too large for a "
                                                 "float"),
    (lambda v: v.clip(max=Value(1.0)), TypeError, r"clip: max must be a number or None; got "
                                                   r"Value\(data=1\.0"),
    (lambda v: v.min(3), ValueError, "min: axis 3 is out of range"),
    (lambda v: Value(np.zeros(0)).min(), ValueError, r"min\(\) of an empty Value"),
    (lambda v: v.maximum(np.ones((4, 1))), ValueError,
     r"maximum: cannot apply to operands of shapes \(2, 3, 1\) and \(4, 1\)"),
    (lambda v: minimum(v, "x"), TypeError, "must be a number, .* got 'x'"),
])
def test_bad_arguments_are_named(call: Any, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        call(Value(np.ones((2, 3, 1))))


# ---- clip, maximum, minimum, detach: behaviour ----------------------------------------------


def test_clip_is_also_clamp_and_keeps_nan() -> None:
    x = Value([-3.0, nan, 3.0])
    y = x.clamp(min=-1.0)
    np.testing.assert_array_equal(y.data, [-1.0, nan, 3.0])
    assert Value(5.0).clip(0, 1).data == 1.0 and type(Value(5.0).clip(0, 1).data) is float


def test_maximum_and_minimum_take_numbers_and_values_on_either_side() -> None:
    x = Value([1.0, 4.0])
    assert cast(Array, maximum(2.0, x).data).tolist() == [2.0, 4.0] == \
        cast(Array, maximum(x, 2).data).tolist()
    assert cast(Array, minimum([3.0, 3.0], x).data).tolist() == [1.0, 3.0]
    y = maximum(x, x * 0.5)
    y.sum().backward()
    assert x.grad.tolist() == [1.0, 1.0]
    assert {"maximum", "minimum", "broadcast_to"} <= set(tinygrad_edu.__all__)


def test_detach_is_a_constant_sharing_the_data() -> None:
    w = Value([1.0, 2.0], label="w")
    h = w * 3.0
    d = h.detach()
    assert not d.requires_grad and d.is_leaf and d.parents == () and d.label == ""
    assert d.data is h.data  # shared, as PyTorch's detach
    loss = (h * d).sum()  # d/dw of 3w · (3w held constant) = 3 · 3w
    loss.backward()
    assert w.grad.tolist() == [9.0, 18.0]
    assert d.grad.tolist() == [0.0, 0.0]
    assert gradients((d * w).sum(), [w])[0].tolist() == [3.0, 6.0]  # no path back through d
    s = Value(2.0).detach()
    assert type(s.data) is float and not s.requires_grad


def test_log1p_and_expm1_are_exact_where_the_naive_forms_round_to_zero() -> None:
    for x in (1e-20, -1e-18, 1e-300):
        v = Value(x)
        assert v.log1p().data == x and v.expm1().data == x
        assert (Value(x) + 1.0).log().data == 0.0  # the naive form loses it all
    v = Value(-40.0)
    v.expm1().backward()
    assert v.grad == math.exp(-40.0)  # eᵃ, not expm1(a) + 1 (which is 0 here)


# ---- the graphs name each node ------------------------------------------------------------


@pytest.mark.parametrize(("build", "label"), [
    (lambda v: v.sin(), "sin"), (lambda v: v.cos(), "cos"), (lambda v: v.log1p(), "log1p"),
    (lambda v: v.expm1(), "expm1"), (lambda v: v.clip(0, 1), "clip(0, 1)"),
    (lambda v: v.clip(min=0.5), "clip(min=0.5)"), (lambda v: v.clip(max=-2), "clip(max=-2)"),
    (lambda v: maximum(v, 0.0), "maximum"), (lambda v: v.minimum(v), "minimum"),
    (lambda v: v.min(), "min"), (lambda v: v.min(1, keepdims=True), "min(axis=1, keepdims)"),
    (lambda v: v.squeeze(), "reshape(shape=(2, 3))"),
    (lambda v: v.broadcast_to((4, 2, 3, 1)), "broadcast_to(shape=(4, 2, 3, 1))"),
])
def test_each_new_node_has_a_readable_label(build: Any, label: str) -> None:
    out = build(Value(np.ones((2, 3, 1))))
    assert out.op is not None and out.op.describe(out.params) == label
    assert out._op == label  # (micrograd's name, which its drawing code prints)
