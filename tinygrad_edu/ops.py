"""The derivative table: every primitive operation, its forward computation and its derivative.

Each entry reads like a line of a calculus book: ``mul: (a, b) -> a*b`` with the
vector-Jacobian product ``g -> (g*b, g*a)``: given the upstream gradient `g` (d root / d out),
the rule returns d root / d input for every input. `out` is the op's own result, handy when
the derivative is best written through it (d exp(a) = exp(a) da). Everything else in the
engine (Value's operators, the activations, the losses) is a composition of these lines.

Rules use only the operator algebra and the primitives themselves, so the same line computes
on Python floats, on numpy arrays and on Values (when a backward pass is recorded for
higher derivatives). Broadcasting is undone in one place, `engine._fit`, not in the rules.

>>> from tinygrad_edu.ops import REGISTRY
>>> REGISTRY["mul"].vjp(1.5, 6.0, 2.0, 3.0)
(4.5, 3.0)
"""

from __future__ import annotations

import math
import operator
from itertools import pairwise
from typing import Any

import numpy as np

from tinygrad_edu.engine import (
    REGISTRY,
    OpError,
    Primitive,
    Value,
    constant,
    data_of,
    primitive,
    shape_of,
    sum_to_shape,
)

__all__ = ["REGISTRY"]

SQRT2 = math.sqrt(2.0)
INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_erfc_array = np.frompyfunc(math.erfc, 1, 1)


def select(cond: Any, if_true: Any, if_false: Any) -> Any:
    """`if_true` where `cond` holds, else `if_false` (a Python `if` on scalars)."""
    if type(cond) is bool:
        return if_true if cond else if_false
    return WHERE(if_true, if_false, cond=np.asarray(cond))


def _kept_shape(shape: tuple[int, ...], axis: tuple[int, ...] | None) -> tuple[int, ...]:
    """`shape` with the reduced axes kept as 1s (what keepdims=True gives)."""
    if axis is None:
        return (1,) * len(shape)
    return tuple(1 if i in axis else n for i, n in enumerate(shape))


def _spread(g: Any, shape: tuple[int, ...], axis: tuple[int, ...] | None) -> Any:
    """Copy a reduction's gradient back over the axes it reduced."""
    kept = _kept_shape(shape, axis)
    if isinstance(g, Value):
        return BROADCAST(RESHAPE(g, shape=kept), shape=shape)
    spread = np.empty(shape)  # a fresh array, which the engine can keep as a .grad uncopied
    spread[...] = np.reshape(g, kept)
    return spread


# ---- elementwise forward computations: Python floats take the `math` path (fast, exact),
# ---- arrays the numpy one; both are stable over the whole float range


def _pow(x: Any, *, exponent: float) -> Any:
    if type(x) is float:
        result = x**exponent
        return math.nan if type(result) is complex else result  # (-8) ** (1/3), as numpy
    return np.power(x, exponent)


def _power(a: Any, b: Any) -> Any:
    if type(a) is float and type(b) is float:
        result = a**b
        return math.nan if type(result) is complex else result
    return np.power(a, b)


def _sigmoid(x: Any) -> Any:
    if type(x) is float:
        if x >= 0.0:
            return 1.0 / (1.0 + math.exp(-x))
        e = math.exp(x)
        return e / (1.0 + e)
    e = np.exp(-np.abs(x))
    return np.where(x >= 0.0, 1.0 / (1.0 + e), e / (1.0 + e))


def _softplus(x: Any) -> Any:
    if type(x) is float:
        return max(x, 0.0) + math.log1p(math.exp(-abs(x)))
    return np.maximum(x, 0.0) + np.log1p(np.exp(-np.abs(x)))


def _relu(x: Any) -> Any:
    if type(x) is float:
        return 0.0 if x <= 0.0 else x
    return np.maximum(x, 0.0)


def _leaky_relu(x: Any, *, negative_slope: float) -> Any:
    if type(x) is float:
        return x if x > 0.0 else negative_slope * x
    return np.where(x > 0.0, x, negative_slope * x)


def _elu(x: Any, *, alpha: float) -> Any:
    if type(x) is float:
        return x if x > 0.0 else alpha * math.expm1(x)
    return np.where(x > 0.0, x, alpha * np.expm1(np.minimum(x, 0.0)))


def _step(x: Any) -> Any:
    if type(x) is float:
        return 1.0 if x > 0.0 else 0.0
    return (x > 0.0).astype(np.float64)


def _sign(x: Any) -> Any:
    if type(x) is float:
        return 1.0 if x > 0.0 else (-1.0 if x < 0.0 else x * 0.0)
    return np.sign(x)


def _normal_cdf(x: Any) -> Any:
    if type(x) is float:
        return 0.5 * math.erfc(-x / SQRT2)
    return 0.5 * np.asarray(_erfc_array(-np.asarray(x) / SQRT2), dtype=np.float64)


def _unary(scalar: Any, array: Any) -> Any:
    """One forward for floats (`scalar`) and arrays (`array`)."""
    return lambda x: scalar(x) if type(x) is float else array(x)


# ---- structural forward computations


def _matmul(a: Any, b: Any) -> Any:
    sa, sb = shape_of(a), shape_of(b)
    if not sa or not sb:
        raise OpError(
            f"matmul (@) needs operands with at least one dimension; got shapes {sa} and {sb} "
            "(use * to multiply by a scalar)"
        )
    inner_b = sb[0] if len(sb) == 1 else sb[-2]
    if sa[-1] != inner_b:
        raise OpError(
            f"matmul (@): shapes {sa} and {sb} do not align: the left operand's last axis has "
            f"length {sa[-1]}, the right operand's "
            f"{'only' if len(sb) == 1 else 'second-to-last'} axis has length {inner_b}"
        )
    try:
        np.broadcast_shapes(sa[:-2], sb[:-2])
    except ValueError:
        raise OpError(
            f"matmul (@): shapes {sa} and {sb}: the batch axes {sa[:-2]} and {sb[:-2]} "
            "(all but the last two) do not broadcast together"
        ) from None
    return np.matmul(a, b)


def _scatter(g: Any, *, index: Any, shape: tuple[int, ...]) -> Any:
    """A zero array of `shape` with `g` added at `index` (repeated indices add up)."""
    out = np.zeros(shape)
    if is_basic_index(index):
        out[index] = g
    else:
        np.add.at(out, index, g)
    return out


def _where(a: Any, b: Any, *, cond: Any) -> Any:
    # selecting against 0 is a multiplication by the mask, several times faster than np.where
    # (as long as no inf or nan would turn 0·inf into nan; the sign of a zero may differ)
    if type(b) is float and b == 0.0 and type(a) is np.ndarray and np.isfinite(a).all():
        return a * cond
    if type(a) is float and a == 0.0 and type(b) is np.ndarray and np.isfinite(b).all():
        return b * ~cond
    return np.where(cond, a, b)


def _concatenate(*xs: Any, axis: int) -> Any:
    return np.concatenate(xs, axis=axis)


def _stack(*xs: Any, axis: int) -> Any:
    return np.stack(xs, axis=axis)


# ---- rules too long for one line


def _power_vjp(g: Any, out: Any, a: Any, b: Any) -> tuple[Any, ...]:
    # NOTE: d(a**b)/db = a**b * log(a) is taken as 0 where a == 0 and b >= 0 (as PyTorch does):
    # there a**b is 0 or 1 whatever b is near, and log(0) would turn that into nan
    at_zero = (np.asarray(data_of(a)) == 0.0) & (np.asarray(data_of(b)) >= 0.0)
    d_base = g * (b * POWER(a, b - 1.0))
    d_exponent = g * out * LOG(select(at_zero, 1.0, a))
    if at_zero.any():
        d_exponent = select(at_zero, 0.0, d_exponent)
    return d_base, d_exponent


def _max_vjp(g: Any, out: Any, a: Any, *, axis: Any, keepdims: bool) -> tuple[Any, ...]:
    # NOTE: tied maxima share the gradient evenly (the subgradient PyTorch's amax uses)
    shape = shape_of(a)
    winners = np.asarray(data_of(a)) == np.reshape(data_of(out), _kept_shape(shape, axis))
    share = winners / np.sum(winners, axis=axis, keepdims=True)
    return (_spread(g, shape, axis) * share,)


def _matmul_vjp(g: Any, out: Any, a: Any, b: Any, *,
                needs: tuple[bool, bool] = (True, True)) -> tuple[Any, ...]:
    if len(shape_of(a)) == 2 and len(shape_of(b)) == 2:  # the common case, spelt out
        return (g @ b.T if needs[0] else None), (a.T @ g if needs[1] else None)
    # 1-D operands act as a row (left) or a column (right) vector, as in numpy
    a_vec, b_vec = len(shape_of(a)) == 1, len(shape_of(b)) == 1
    a2 = RESHAPE(a, shape=(1, *shape_of(a))) if a_vec else a
    b2 = RESHAPE(b, shape=(*shape_of(b), 1)) if b_vec else b
    sa, sb = shape_of(a2), shape_of(b2)
    batch = np.broadcast_shapes(sa[:-2], sb[:-2])
    g2 = RESHAPE(g, shape=(*batch, sa[-2], sb[-1]))
    da = _sum_to(g2 @ _swap_last(b2), sa, shape_of(a)) if needs[0] else None
    db = _sum_to(_swap_last(a2) @ g2, sb, shape_of(b)) if needs[1] else None
    return da, db


def _sum_to(x: Any, shape: tuple[int, ...], final: tuple[int, ...]) -> Any:
    """Undo the batch broadcasting of `x` down to `shape`, then reshape to `final`."""
    x = sum_to_shape(x, shape)
    return x if shape_of(x) == final else RESHAPE(x, shape=final)


def _swap_last(x: Any) -> Any:
    axes = list(range(len(shape_of(x))))
    axes[-1], axes[-2] = axes[-2], axes[-1]
    return TRANSPOSE(x, axes=tuple(axes))


def _concatenate_vjp(g: Any, out: Any, *xs: Any, axis: int) -> tuple[Any, ...]:
    bounds = np.cumsum([0] + [shape_of(x)[axis] for x in xs]).tolist()
    before = (slice(None),) * axis
    return tuple(GETITEM(g, index=(*before, slice(s, e))) for s, e in pairwise(bounds))


def _stack_vjp(g: Any, out: Any, *xs: Any, axis: int) -> tuple[Any, ...]:
    before = (slice(None),) * axis
    return tuple(GETITEM(g, index=(*before, i)) for i in range(len(xs)))


def _index_text(index: Any) -> str:
    parts = index if isinstance(index, tuple) else (index,)

    def one(part: Any) -> str:
        if isinstance(part, slice):
            text = ":".join("" if v is None else str(v) for v in (part.start, part.stop, part.step))
            return text.rstrip(":") if part.step is None else text
        if part is Ellipsis:
            return "..."
        if isinstance(part, np.ndarray):
            return str(part.tolist()).replace(" ", "")
        return str(part)

    return "[" + ", ".join(one(p) for p in parts) + "]"


def _fmt(x: float) -> str:
    return f"{x:g}"


def _reduction_caption(name: str, params: dict[str, Any]) -> str:
    axis = params.get("axis")
    axes = () if axis is None else (axis,) if isinstance(axis, int) else tuple(axis)
    shown = "" if not axes else f"axis={axes[0] if len(axes) == 1 else axes}"
    if params.get("keepdims"):
        shown = f"{shown}, keepdims" if shown else "keepdims"
    return f"{name}({shown})" if shown else name


# fmt: off
# Each entry: name and forward; the rule (g, out, *inputs) -> one gradient per input; then
# what the graphs and the tests need to know.

# ---- arithmetic
ADD: Primitive = primitive("add", operator.add,
    lambda g, out, a, b: (g, g),
    label="+", elementwise=True,
    text="∂out/∂a = 1,  ∂out/∂b = 1")
SUB: Primitive = primitive("sub", operator.sub,
    lambda g, out, a, b: (g, -g),
    label="-", elementwise=True,
    text="∂out/∂a = 1,  ∂out/∂b = −1")
MUL: Primitive = primitive("mul", operator.mul,
    lambda g, out, a, b: (g * b, g * a),
    label="*", elementwise=True,
    text="∂out/∂a = b,  ∂out/∂b = a")
DIV: Primitive = primitive("div", operator.truediv,
    lambda g, out, a, b: (g / b, -g * out / b),
    label="/", elementwise=True, domain=((-3.0, 3.0), (0.25, 3.0)),
    text="∂out/∂a = 1/b,  ∂out/∂b = −a/b² = −out/b")
NEG: Primitive = primitive("neg", operator.neg,
    lambda g, out, a: (-g,),
    label="-", elementwise=True,
    text="∂out/∂a = −1")
POW: Primitive = primitive("pow", _pow,  # a ** exponent, the exponent a plain number
    lambda g, out, a, *, exponent: (None,) if exponent == 0 else
                                   (g * (exponent * POW(a, exponent=exponent - 1.0)),),
    label="**", elementwise=True, domain=((0.25, 3.0),),
    caption=lambda p: f"**{_fmt(p['exponent'])}",
    examples=({"exponent": 2.0}, {"exponent": 3.0}, {"exponent": -1.0}, {"exponent": 0.5},
              {"exponent": -2.5}, {"exponent": 0.0}),
    text="∂out/∂a = {exponent}·a^({exponent} − 1)")
POWER: Primitive = primitive("power", _power,  # a ** b, the exponent a Value
    _power_vjp,
    label="**", elementwise=True, domain=((0.25, 3.0), (-3.0, 3.0)),
    text="∂out/∂a = b·a^(b − 1),  ∂out/∂b = out·log(a)")

# ---- elementary functions
EXP: Primitive = primitive("exp", _unary(math.exp, np.exp),
    lambda g, out, a: (g * out,),
    elementwise=True, domain=((-5.0, 5.0),),
    text="∂out/∂a = exp(a) = out")
LOG: Primitive = primitive("log", _unary(math.log, np.log),
    lambda g, out, a: (g / a,),
    elementwise=True, domain=((0.05, 10.0),),
    text="∂out/∂a = 1/a")
SQRT: Primitive = primitive("sqrt", _unary(math.sqrt, np.sqrt),
    lambda g, out, a: (g / (2.0 * out),),
    elementwise=True, domain=((0.05, 10.0),),
    text="∂out/∂a = 1/(2·√a) = 1/(2·out)")
SIGN: Primitive = primitive("sign", _sign,
    lambda g, out, a: (None,),
    elementwise=True, kinks=(0.0,),
    text="∂out/∂a = 0 (sign passes no gradient)")
ABS: Primitive = primitive("abs", _unary(abs, np.abs),
    lambda g, out, a: (g * SIGN(a),),  # NOTE: d|a| at 0 is taken to be 0
    elementwise=True, kinks=(0.0,),
    text="∂out/∂a = sign(a)  (0 at a = 0)")

# ---- the lecture's activations (compositions such as selu and gelu are in activations.py)
SIGMOID: Primitive = primitive("sigmoid", _sigmoid,
    lambda g, out, a: (g * out * SIGMOID(-a),),  # σ' = σ(a)·σ(-a), accurate on both tails
    elementwise=True,
    text="∂out/∂a = σ(a)·(1 − σ(a)) = σ(a)·σ(−a)")
TANH: Primitive = primitive("tanh", _unary(math.tanh, np.tanh),
    # 1 - tanh² written as 4·σ(2a)·σ(-2a), which stays accurate where tanh rounds to ±1
    lambda g, out, a: (g * (4.0 * SIGMOID(2.0 * a) * SIGMOID(-2.0 * a)),),
    elementwise=True,
    text="∂out/∂a = 1 − tanh²(a) = 1 − out²")
STEP: Primitive = primitive("step", _step,
    # NOTE: the step function passes no gradient anywhere: the reason Rosenblatt's
    # perceptron needs its own learning rule
    lambda g, out, a: (None,),
    elementwise=True, kinks=(0.0,),
    text="∂out/∂a = 0 everywhere (the step passes no gradient)")
RELU: Primitive = primitive("relu", _relu,
    lambda g, out, a: (select(a > 0.0, g, 0.0),),  # NOTE: d relu at 0 is taken to be 0
    elementwise=True, kinks=(0.0,),
    text="∂out/∂a = 1 if a > 0 else 0  (0 at a = 0)")
LEAKY_RELU: Primitive = primitive("leaky_relu", _leaky_relu,
    lambda g, out, a, *, negative_slope: (select(a > 0.0, g, g * negative_slope),),
    elementwise=True, kinks=(0.0,),  # NOTE: at 0 the slope is negative_slope
    caption=lambda p: f"leaky_relu({_fmt(p['negative_slope'])})",
    examples=({"negative_slope": 0.01}, {"negative_slope": 0.2}),
    text="∂out/∂a = 1 if a > 0 else {negative_slope}")
ELU: Primitive = primitive("elu", _elu,
    # α·eᵃ, not out + α (which cancels to 0 far left); a·(a ≤ 0) keeps exp finite on the right
    lambda g, out, a, *, alpha: (select(a > 0.0, g, g * (alpha * EXP(a * (a <= 0.0)))),),
    elementwise=True, kinks=(0.0,),  # NOTE: at 0 the slope is alpha
    caption=lambda p: f"elu({_fmt(p['alpha'])})",
    examples=({"alpha": 1.0}, {"alpha": 0.5}),
    text="∂out/∂a = 1 if a > 0 else {alpha}·exp(a)")
SOFTPLUS: Primitive = primitive("softplus", _softplus,
    lambda g, out, a: (g * SIGMOID(a),),
    elementwise=True,
    text="∂out/∂a = σ(a)")
NORMAL_CDF: Primitive = primitive("normal_cdf", _normal_cdf,  # Φ, for gelu
    lambda g, out, a: (g * (INV_SQRT_2PI * EXP(-0.5 * (a * a))),),
    label="Φ", elementwise=True,
    text="∂out/∂a = φ(a) = exp(−a²/2)/√(2π)")

# ---- reductions, shapes and indexing: each is linear, and its rule is its adjoint
SUM: Primitive = primitive("sum", lambda x, *, axis, keepdims: np.sum(x, axis, keepdims=keepdims),
    lambda g, out, a, *, axis, keepdims: (_spread(g, shape_of(a), axis),),
    caption=lambda p: _reduction_caption("sum", p),
    text="∂out/∂a = 1 for every summed element: g is copied back over the axes")
MAX: Primitive = primitive("max", lambda x, *, axis, keepdims: np.max(x, axis, keepdims=keepdims),
    _max_vjp,
    caption=lambda p: _reduction_caption("max", p),
    text="∂out/∂a = 1 at the maximum (shared evenly among ties), 0 elsewhere")
RESHAPE: Primitive = primitive("reshape", lambda x, *, shape: np.reshape(x, shape),
    lambda g, out, a, *, shape: (RESHAPE(g, shape=shape_of(a)),),
    text="g is reshaped back to a's shape")
BROADCAST: Primitive = primitive("broadcast_to", lambda x, *, shape: np.broadcast_to(x, shape),
    lambda g, out, a, *, shape: (g,),  # summed back to a's shape centrally (engine._fit)
    text="g is summed back over the broadcast axes")
TRANSPOSE: Primitive = primitive("transpose", lambda x, *, axes: np.transpose(x, axes),
    lambda g, out, a, *, axes: (TRANSPOSE(g, axes=tuple(np.argsort(axes).tolist())),),
    caption=lambda p: "T" if list(p["axes"]) == sorted(p["axes"])[::-1]
                      else f"transpose{tuple(p['axes'])}",
    text="g is transposed back")
GETITEM: Primitive = primitive("getitem", lambda x, *, index: x[index],
    lambda g, out, a, *, index: (SCATTER(g, index=index, shape=shape_of(a)),),
    caption=lambda p: _index_text(p["index"]),
    text="g goes back to the selected elements of a, 0 elsewhere")
SCATTER: Primitive = primitive("scatter_add", _scatter,
    lambda g, out, a, *, index, shape: (GETITEM(g, index=index),),
    caption=lambda p: f"scatter{_index_text(p['index'])}",
    text="a gets g at the index")
MATMUL: Primitive = primitive("matmul", _matmul,
    _matmul_vjp,
    label="@", needs_mask=True,
    text="a gets g @ bᵀ,  b gets aᵀ @ g")
CONCATENATE: Primitive = primitive("concatenate", _concatenate,
    _concatenate_vjp,
    text="each input gets its own slice of g")
STACK: Primitive = primitive("stack", _stack,
    _stack_vjp,
    text="each input gets its own slice of g")
WHERE: Primitive = primitive("where", _where,
    lambda g, out, a, b, *, cond: (select(cond, g, 0.0), select(cond, 0.0, g)),
    text="a gets g where the condition holds, b gets g elsewhere")
# fmt: on


# ---- argument checks shared by Value's methods and the module functions


def normalize_axis(axis: Any, ndim: int, op: str) -> tuple[int, ...] | None:
    """`axis` as a sorted tuple of non-negative axes (None means every axis)."""
    if axis is None:
        return None
    if isinstance(axis, int | np.integer):
        axes: tuple[Any, ...] = (axis,)
    elif isinstance(axis, tuple | list):
        axes = tuple(axis)
    else:
        raise TypeError(f"{op}: axis must be an int or a tuple of ints; got {axis!r}")
    result = []
    for a in axes:
        if not isinstance(a, int | np.integer) or isinstance(a, bool):
            raise TypeError(f"{op}: axis must be an int or a tuple of ints; got {axis!r}")
        if not -ndim <= a < ndim:
            raise ValueError(f"{op}: axis {a} is out of range for a Value with {ndim} dimensions"
                             + (" (a scalar has none)" if ndim == 0 else ""))
        result.append(int(a) % ndim)
    if len(set(result)) != len(result):
        raise ValueError(f"{op}: axis {axis!r} repeats an axis")
    return tuple(sorted(result))


def is_basic_index(index: Any) -> bool:
    """True when `index` only slices (no integer arrays), so no element is picked twice."""
    parts = index if isinstance(index, tuple) else (index,)
    return all(p is None or p is Ellipsis or isinstance(p, int | slice) for p in parts)


def normalize_index(index: Any) -> Any:
    """Turn Values and lists inside an index into integer or boolean arrays."""
    if isinstance(index, tuple):
        return tuple(_index_part(p) for p in index)
    return _index_part(index)


def _index_part(part: Any) -> Any:
    if isinstance(part, Value):
        part = part.data
    if isinstance(part, bool | np.bool_):
        raise TypeError("a Value cannot be indexed with a single bool")
    if isinstance(part, np.integer):
        return int(part)
    if isinstance(part, float):
        raise TypeError(f"indices must be integers, slices or integer arrays; got {part!r}")
    if isinstance(part, list | np.ndarray):
        array = np.asarray(part)
        if array.dtype.kind == "f" and np.all(array == np.round(array)):
            array = array.astype(np.intp)
        if array.dtype.kind not in "biu":
            raise TypeError(f"index arrays must hold integers or bools; got dtype {array.dtype}")
        return array
    return part


# ---- module functions for the primitives that take several Values


def _values(xs: Any, op: str) -> list[Value]:
    if isinstance(xs, Value) or not isinstance(xs, list | tuple):
        raise TypeError(f"{op} takes a list or tuple of Values/arrays; got {type(xs).__name__}")
    if not xs:
        raise ValueError(f"{op} needs at least one Value")
    return [constant(x) for x in xs]


def concatenate(values: Any, axis: int = 0) -> Value:
    """Join Values along an existing axis, as `numpy.concatenate`.

    >>> concatenate([Value([1.0, 2.0]), Value([3.0])]).data
    array([1., 2., 3.])
    """
    parts = _values(values, "concatenate")
    shapes = [p.shape for p in parts]
    if any(not s for s in shapes):
        raise ValueError(f"concatenate: scalars have no axis to join along; shapes {shapes}")
    ndim = len(shapes[0])
    (ax,) = normalize_axis(axis, ndim, "concatenate") or (0,)
    if any(len(s) != ndim or s[:ax] + s[ax + 1 :] != shapes[0][:ax] + shapes[0][ax + 1 :]
           for s in shapes):
        raise ValueError(f"concatenate: shapes {shapes} must agree except along axis {axis}")
    return CONCATENATE(*parts, axis=ax)  # type: ignore[no-any-return]


def stack(values: Any, axis: int = 0) -> Value:
    """Join Values of one shape along a new axis, as `numpy.stack`.

    >>> stack([Value(1.0), Value(2.0)]).data
    array([1., 2.])
    """
    parts = _values(values, "stack")
    shapes = [p.shape for p in parts]
    if any(s != shapes[0] for s in shapes):
        raise ValueError(f"stack: all Values must have the same shape; got {shapes}")
    (ax,) = normalize_axis(axis, len(shapes[0]) + 1, "stack") or (0,)
    return STACK(*parts, axis=ax)  # type: ignore[no-any-return]


def where(condition: Any, if_true: Any, if_false: Any) -> Value:
    """`if_true` where `condition` holds, `if_false` elsewhere (broadcast), as `numpy.where`.

    The condition carries no gradient; each branch gets the gradient where it was chosen.

    >>> where(Value([1.0, -1.0]) > 0, Value([10.0, 20.0]), 0.0).data
    array([10.,  0.])
    """
    cond = np.asarray(data_of(condition))
    if cond.dtype.kind not in "biuf":
        raise TypeError(f"where: the condition must be boolean or numeric; got dtype {cond.dtype}")
    cond = cond.astype(bool)
    a, b = constant(if_true), constant(if_false)
    try:
        np.broadcast_shapes(cond.shape, a.shape, b.shape)
    except ValueError:
        raise ValueError(f"where: shapes {cond.shape} (condition), {a.shape} and {b.shape} "
                         "do not broadcast together") from None
    return WHERE(a, b, cond=cond)  # type: ignore[no-any-return]

