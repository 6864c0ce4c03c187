"""Functions that build one Value from several: `concatenate`, `stack`, `where`, `maximum`,
`minimum`; and `broadcast_to`, as numpy has it.

Each checks its arguments, with messages that name the shapes, then applies one primitive
of the derivative table. `numpy_function` is what numpy's own functions do when given a
Value (``np.sum(v)``, ``np.concatenate([v, w])``): the Value's operation where there is one,
else numpy's result where it cannot carry a gradient, else a clear refusal.

>>> from tinygrad_edu import Value
>>> concatenate([Value([1.0, 2.0]), Value([3.0])]).data
array([1., 2., 3.])
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

import numpy as np

from tinygrad_edu import engine, ops
from tinygrad_edu.data import data_of, describe
from tinygrad_edu.engine import Value, constant
from tinygrad_edu.grad_mode import is_grad_enabled
from tinygrad_edu.kernels import normalize_axis

__all__ = ["broadcast_to", "concatenate", "maximum", "minimum", "numpy_function", "numpy_ufunc",
           "stack", "where"]


def _values(xs: Any, op: str) -> list[Value]:
    if isinstance(xs, Value) or not isinstance(xs, list | tuple):
        raise TypeError(f"{op} takes a list or tuple of Values/arrays; got {type(xs).__name__}")
    if not xs:
        raise ValueError(f"{op} needs at least one Value")
    return [constant(x) for x in xs]


def _check_axis_type(axis: Any, op: str) -> None:
    """Refuse an `axis` that is not one int (numpy's concatenate and stack take one)."""
    if not isinstance(axis, int | np.integer) or isinstance(axis, bool):
        raise TypeError(f"{op}: axis must be one int; got {axis!r}")


def concatenate(values: Any, axis: int | None = 0) -> Value:
    """Join Values along an existing axis, as `numpy.concatenate` (``axis=None``: each
    flattened first, one 1-D result).

    >>> concatenate([Value([[1.0], [2.0]]), Value([[3.0], [4.0]])], axis=1).shape
    (2, 2)
    >>> concatenate([Value([[1.0], [2.0]]), Value(3.0)], axis=None).data
    array([1., 2., 3.])
    """
    parts = _values(values, "concatenate")
    if axis is None:
        return engine.apply(ops.CONCATENATE, *(p.reshape(-1) for p in parts), axis=0)
    _check_axis_type(axis, "concatenate")
    shapes = [p.shape for p in parts]
    if any(not s for s in shapes):
        raise ValueError(f"concatenate: scalars have no axis to join along; shapes {shapes}")
    ndim = len(shapes[0])
    (ax,) = normalize_axis(axis, ndim, "concatenate") or (0,)
    if any(len(s) != ndim or s[:ax] + s[ax + 1 :] != shapes[0][:ax] + shapes[0][ax + 1 :]
           for s in shapes):
        raise ValueError(f"concatenate: shapes {shapes} must agree except along axis {axis}")
    return engine.apply(ops.CONCATENATE, *parts, axis=ax)


def stack(values: Any, axis: int = 0) -> Value:
    """Join Values of one shape along a new axis, as `numpy.stack`.

    >>> stack([Value(1.0), Value(2.0)]).data
    array([1., 2.])
    """
    parts = _values(values, "stack")
    shapes = [p.shape for p in parts]
    if any(s != shapes[0] for s in shapes):
        raise ValueError(f"stack: all Values must have the same shape; got {shapes}")
    _check_axis_type(axis, "stack")
    (ax,) = normalize_axis(axis, len(shapes[0]) + 1, "stack") or (0,)
    return engine.apply(ops.STACK, *parts, axis=ax)


def where(condition: Any, if_true: Any, if_false: Any) -> Value:
    """`if_true` where `condition` holds, `if_false` elsewhere (broadcast), as `numpy.where`.

    The condition carries no gradient; each branch gets the gradient where it was chosen.

    >>> where(Value([1.0, -1.0]) > 0, Value([10.0, 20.0]), 0.0).data
    array([10.,  0.])
    """
    try:
        cond = np.asarray(data_of(condition))
    except ValueError:  # (numpy's "inhomogeneous shape" names neither where nor the condition)
        raise ValueError(f"where: the condition must be a rectangular (nested) list or an "
                         f"array; got {describe(condition)}, whose rows are not all of one "
                         "shape") from None
    if cond.dtype.kind not in "biuf":
        raise TypeError(f"where: the condition must be boolean or numeric; got dtype {cond.dtype}")
    cond = cond.astype(bool)
    a, b = constant(if_true), constant(if_false)
    try:
        np.broadcast_shapes(cond.shape, a.shape, b.shape)
    except ValueError:
        raise ValueError(f"where: shapes {cond.shape} (condition), {a.shape} and {b.shape} "
                         "do not broadcast together") from None
    return engine.apply(ops.WHERE, a, b, cond=cond)


def maximum(a: Any, b: Any) -> Value:
    """The larger of `a` and `b`, elementwise, broadcast, as `numpy.maximum`/`torch.maximum`.

    Kink convention: where a == b the gradient is split evenly, ½ to each (as PyTorch's); a
    nan in either gives nan, and both operands the whole gradient there (as PyTorch).

    >>> maximum(Value([1.0, 5.0]), 3.0).data
    array([3., 5.])
    """
    return constant(a).maximum(b)


def minimum(a: Any, b: Any) -> Value:
    """The smaller of `a` and `b`, elementwise, broadcast; ties split the gradient ½/½.

    >>> minimum(Value([1.0, 5.0]), 3.0).data
    array([1., 3.])
    """
    return constant(a).minimum(b)


def broadcast_to(value: Any, shape: int | tuple[int, ...]) -> Value:
    """`value` repeated to `shape` by numpy's broadcasting rules, as `numpy.broadcast_to`.

    >>> broadcast_to(Value([1.0, 2.0]), (2, 2)).data
    array([[1., 2.],
           [1., 2.]])
    """
    return constant(value).broadcast_to(shape)


def _expand_dims(a: Any, axis: Any) -> Value:
    """`numpy.expand_dims`: a new axis of length 1 at each of `axis` (an int or a tuple,
    counted in the result, as numpy counts them). A `reshape`."""
    x = constant(a)
    axes = axis if isinstance(axis, tuple | list) else (axis,)
    if not all(isinstance(n, int | np.integer) and not isinstance(n, bool) for n in axes):
        raise TypeError(f"np.expand_dims: axis must be an int or a tuple of ints; got {axis!r}")
    ndim = x.ndim + len(axes)
    new = normalize_axis(tuple(axes), ndim, "np.expand_dims (which counts the new axes)") or ()
    lengths = iter(x.shape)
    return x.reshape(tuple(1 if i in new else next(lengths) for i in range(ndim)))


def _dot(a: Any, b: Any) -> Value:
    """`numpy.dot` for what it shares with `@` and `*`: vectors and matrices, or a scalar."""
    x, y = constant(a), constant(b)
    if not x.shape or not y.shape:
        return x * y
    if x.ndim > 2 or y.ndim > 2:
        raise ValueError(f"np.dot of shapes {x.shape} and {y.shape}: on a Value, np.dot takes "
                         "vectors and matrices (use @, which batches as np.matmul does)")
    return x @ y


# numpy's functions that have a Value equivalent: the equivalent, and which of numpy's
# parameters it takes (numpy's name: ours; "self" is the Value the method is called on)
_REDUCTION = {"a": "self", "axis": "axis", "keepdims": "keepdims"}
_EQUIVALENTS: dict[Callable[..., Any], tuple[Callable[..., Any], dict[str, str]]] = {
    np.sum: (Value.sum, _REDUCTION),
    np.mean: (Value.mean, _REDUCTION),
    np.max: (Value.max, _REDUCTION),
    np.amax: (Value.max, _REDUCTION),
    np.min: (Value.min, _REDUCTION),
    np.amin: (Value.min, _REDUCTION),
    np.var: (Value.var, {**_REDUCTION, "ddof": "ddof"}),
    np.std: (Value.std, {**_REDUCTION, "ddof": "ddof"}),
    np.argmax: (Value.argmax, _REDUCTION),
    np.argmin: (Value.argmin, _REDUCTION),
    np.clip: (Value.clip, {"a": "self", "a_min": "min", "a_max": "max", "min": "min",
                           "max": "max"}),
    np.reshape: (Value.reshape, {"a": "self", "shape": "shape", "newshape": "shape",
                                 "order": "order"}),
    np.ravel: (Value.flatten, {"a": "self"}),
    np.transpose: (Value.transpose, {"a": "self", "axes": "axes"}),
    np.swapaxes: (Value.swapaxes, {"a": "self", "axis1": "axis1", "axis2": "axis2"}),
    np.squeeze: (Value.squeeze, {"a": "self", "axis": "axis"}),
    np.expand_dims: (_expand_dims, {"a": "a", "axis": "axis"}),
    np.broadcast_to: (broadcast_to, {"array": "value", "shape": "shape"}),
    np.concatenate: (concatenate, {"arrays": "values", "axis": "axis"}),
    np.stack: (stack, {"arrays": "values", "axis": "axis"}),
    np.where: (where, {"condition": "condition", "x": "if_true", "y": "if_false"}),
    np.dot: (_dot, {"a": "a", "b": "b"}),
}


_signature = functools.cache(inspect.signature)  # (numpy's, read once per function)


def numpy_function(func: Callable[..., Any], args: tuple[Any, ...],
                   kwargs: dict[str, Any]) -> Any:
    """``func(*args, **kwargs)``, a numpy function given a Value (`Value.__array_function__`).

    * A function with a Value equivalent runs it: ``np.sum(v, axis=0)`` is
      ``v.sum(axis=0)``, a Value, with its gradient.
    * Any other runs on the data when its result cannot carry a gradient: integers or
      booleans (``np.argsort``, ``np.allclose``, ``np.shape``), or no Value that needs a
      gradient was given (or recording is off).
    * Else it is refused: numpy's numbers would silently lose the gradient (PyTorch refuses
      too). ``np.linalg.norm(v.data)`` asks for numbers without a gradient.
    * A Value where numpy writes (``out=v``; the first argument of ``np.copyto``,
      ``np.put``...) is refused: numpy would change a copy and leave the Value as it was.

    >>> import numpy as np
    >>> x = Value([3.0, -4.0])
    >>> np.sum(x * x).data, np.argmax(x)
    (25.0, 0)
    """
    module = getattr(func, "__module__", None) or "numpy"
    name = f"{module.replace('numpy', 'np', 1)}.{getattr(func, '__name__', func)}"
    equivalent = _EQUIVALENTS.get(func)
    if equivalent is not None:
        ours, names = equivalent
        given = _given(func, args, kwargs)
        if func is not np.where or len(given) == 3:  # (np.where(condition): its indices)
            unknown = [p for p in given if p not in names]
            if unknown:
                raise TypeError(f"{name} on a Value takes only {', '.join(names)}; got "
                                f"{', '.join(f'{p}=' for p in unknown)}")
            mapped: dict[str, Any] = {}
            for p, x in given.items():
                twice = [q for q in given if q != p and names[q] == names[p]]
                if twice:  # (np.clip's a_min and min: numpy refuses both too)
                    raise TypeError(f"{name}: {p}= and {twice[0]}= are one parameter; "
                                    "give only one of them")
                mapped[names[p]] = x
            if "self" in mapped:
                value = constant(mapped.pop("self"))
                # (reshape's shape and transpose's axes are positional: ``*shape``, ``*axes``)
                positional = [mapped.pop(p) for p in ("shape", "axes") if p in mapped]
                return ours(value, *positional, **mapped)
            return ours(**mapped)
    return _on_data(name, func, args, kwargs)


def _on_data(name: str, func: Callable[..., Any], args: tuple[Any, ...],
             kwargs: dict[str, Any]) -> Any:
    """numpy's `func` run on the data of the Values given, where its result cannot carry a
    gradient; refused where it would silently drop one, or change a copy (`numpy_function`)."""
    needs_grad = False

    def plain(x: Any) -> Any:  # `x` with its Values' data in their place
        nonlocal needs_grad
        if isinstance(x, Value):
            needs_grad = needs_grad or x.requires_grad
            return np.array(x._data, dtype=np.float64)  # (a copy, as np.array(x) gives)
        if isinstance(x, list | tuple):
            return type(x)(plain(item) for item in x)
        return x

    _refuse_value_out(name, kwargs)
    result = func(*plain(args), **{key: plain(x) for key, x in kwargs.items()})
    if result is None and args and isinstance(args[0], Value):
        raise TypeError(f"{name} changes its first argument in place, and numpy changes "
                        "only arrays: given a Value, it changed a copy and left the Value as "
                        f"it was. Give it the Value's data ({name}(v.data, ...)) to change it "
                        "between training steps")
    if needs_grad and is_grad_enabled() and _holds_floats(result):
        raise TypeError(f"{name} has no Value equivalent: its numbers would carry no gradient "
                        f"back to the Value given. Use the Value's own operations, or give "
                        f"it the data ({name}(v.data)) for numbers without a gradient")
    return result


# numpy's ufuncs that are Python's operators on arrays (``array + v`` calls np.add): Value's
# operator and its reflected one, called as Python would call them on a number and a Value
_OPERATORS: dict[np.ufunc, tuple[str, str]] = {
    np.add: ("__add__", "__radd__"), np.subtract: ("__sub__", "__rsub__"),
    np.multiply: ("__mul__", "__rmul__"), np.true_divide: ("__truediv__", "__rtruediv__"),
    np.power: ("__pow__", "__rpow__"), np.matmul: ("__matmul__", "__rmatmul__"),
}
# numpy's ufuncs with a Value equivalent, the same numbers (looked up when called: the
# operators of Value are swapped for their reference while anomalies are detected)
_UNARY: dict[np.ufunc, Callable[[Value], Value]] = {
    np.exp: lambda v: v.exp(), np.log: lambda v: v.log(), np.sqrt: lambda v: v.sqrt(),
    np.absolute: lambda v: v.abs(), np.tanh: lambda v: v.tanh(), np.sin: lambda v: v.sin(),
    np.cos: lambda v: v.cos(), np.log1p: lambda v: v.log1p(), np.expm1: lambda v: v.expm1(),
    np.negative: lambda v: -v, np.positive: lambda v: +v, np.square: lambda v: v**2,
    np.reciprocal: lambda v: 1.0 / v,
}
_BINARY: dict[np.ufunc, Callable[[Any, Any], Value]] = {np.maximum: maximum, np.minimum: minimum}
def _equal(a: Any, b: Any) -> Any:
    """``array == v`` as the Value compares itself: the numbers, but between two Values
    identity (a Value is a dict key, as micrograd's), and so for each object of an array of
    objects (Values, say), as numpy compares those."""
    value, other = (b, a) if isinstance(b, Value) else (a, b)
    if isinstance(other, np.ndarray) and other.dtype.kind == "O":
        return np.array([x is value for x in other.flat], dtype=bool).reshape(other.shape)
    return value == other


def _not_equal(a: Any, b: Any) -> Any:
    value, other = (b, a) if isinstance(b, Value) else (a, b)
    if isinstance(other, np.ndarray) and other.dtype.kind == "O":
        return ~_equal(a, b)
    return value != other


_EQUALITY: dict[np.ufunc, Callable[[Any, Any], Any]] = {np.equal: _equal,
                                                        np.not_equal: _not_equal}


def numpy_ufunc(ufunc: np.ufunc, method: str, inputs: tuple[Any, ...],
                kwargs: dict[str, Any]) -> Any:
    """``ufunc(*inputs, **kwargs)``, a numpy ufunc given a Value (`Value.__array_ufunc__`).

    * numpy's arithmetic (np.add ... np.matmul, what ``array + v`` and ``X @ W`` call) is
      Value's own operator, as Python calls it: ``array + v`` is ``v.__radd__(array)``;
    * np.exp, np.log, np.sqrt, np.absolute, np.tanh, np.sin, np.cos, np.log1p, np.expm1,
      np.negative, np.positive, np.square (``v ** 2``), np.reciprocal (``1 / v``),
      np.maximum and np.minimum are the Value's operations, with their gradients;
    * any other runs as numpy's functions do (`numpy_function`): on the data where its
      result cannot carry a gradient (``np.isnan(v)``, ``array < v``), else it is refused.

    Where numpy would write the result into an array (``out=``, and ``array += v``) it is
    refused: the result is a new Value. Where a Value needs a gradient, numpy writing its
    numbers into an array (``np.add.at(array, i, v)``, ``np.floor(v, out=array)``) or an
    object loop (``dtype=object``: Python numbers) is refused before numpy runs.

    >>> import numpy as np
    >>> x = Value([0.0, 1.0])
    >>> np.exp(x).sum().backward()
    >>> x.grad
    array([1.        , 2.71828183])
    """
    operators = _OPERATORS.get(ufunc)
    if operators is not None and method == "__call__" and not kwargs:
        a, b = inputs  # (the frequent case first: ``X @ W``, a numpy batch)
        result = getattr(a, operators[0])(b) if isinstance(a, Value) else \
            getattr(b, operators[1])(a)
        if result is NotImplemented:
            raise TypeError(f"unsupported operand type(s) for np.{ufunc.__name__}: "
                            f"{type(a).__name__!r} and {type(b).__name__!r}")
        return result
    name = f"np.{ufunc.__name__}" + ("" if method == "__call__" else f".{method}")
    unary, binary, equality = _UNARY.get(ufunc), _BINARY.get(ufunc), _EQUALITY.get(ufunc)
    if method != "__call__" or (operators is None and unary is None and binary is None and
                                equality is None):
        _refuse_value_out(name, kwargs)
        if is_grad_enabled() and any(isinstance(x, Value) and x.requires_grad for x in inputs):
            # (refused before numpy writes into an array, not after: the array kept as it was)
            if method == "at" and not isinstance(inputs[0], Value):
                raise TypeError(f"{name} would write the numbers of a Value that needs a "
                                "gradient into an array, where they carry none; build the "
                                f"result from Values (array + v), or give it the data "
                                f"({name}(array, indices, v.data)) for numbers without one")
            floats = [x for x in _parts(kwargs.get("out"))
                      if isinstance(x, np.ndarray) and x.dtype.kind in "fcO"]
            if floats:
                raise TypeError(f"{name} with out= an array of {floats[0].dtype} (shape "
                                f"{floats[0].shape}): numpy would write numbers there "
                                "without the gradient of the Value given; use the Value's "
                                f"own operations, or give it the data ({name}(v.data, "
                                "out=...)) for numbers without a gradient")

            def is_object(x: Any) -> bool:  # (a dtype, or a signature's type codes 'OO->O')
                try:
                    return x is not None and np.dtype(x).kind == "O"
                except TypeError:
                    return isinstance(x, str) and "O" in x
            loops = [kwargs.get("dtype"), *_parts(kwargs.get("signature"))]
            if any(is_object(x) for x in loops):
                raise TypeError(f"{name} with dtype=object (or an object signature): numpy's "
                                "object loop gives Python numbers, without the gradient of "
                                "the Value given; use the Value's own operations, or give "
                                f"it the data ({name}(v.data, ...)) for numbers without one")
        return _on_data(name, getattr(ufunc, method), inputs, kwargs)
    if "out" in kwargs:
        _refuse_value_out(name, kwargs)
        raise TypeError(f"{name} with out= an array: the result of an operation on a Value "
                        "is a new Value, which numpy cannot write into an array; use the "
                        "result (for `array += v` write `array = array + v`). A gradient "
                        "recorded by backward(create_graph=True) is a Value too: its numbers "
                        "are .grad.data (p.data -= lr * p.grad.data)")
    if kwargs:
        raise TypeError(f"{name} on a Value takes no keyword arguments; got "
                        f"{', '.join(f'{key}=' for key in kwargs)}")
    if equality is not None:
        return equality(*inputs)  # (``array == v``: as ``v == array``)
    if unary is not None:
        return unary(inputs[0])
    assert binary is not None  # (one of them is not None, and not operators: kwargs given)
    return binary(*inputs)


def _refuse_value_out(name: str, kwargs: dict[str, Any]) -> None:
    if any(isinstance(x, Value) for x in _parts(kwargs.get("out"))):
        raise TypeError(f"{name}: out= is a Value, and numpy writes only into arrays (it "
                        "would fill a copy and leave the Value as it was); use the result, "
                        "or out=v.data to change the Value's data")


def _given(func: Callable[..., Any], args: tuple[Any, ...],
           kwargs: dict[str, Any]) -> dict[str, Any]:
    """The arguments given to numpy's `func`, by name; the keywords its ``**kwargs``
    collects (np.clip's ``casting=``...) are named one by one."""
    signature = _signature(func)
    given: dict[str, Any] = {}
    for p, x in signature.bind(*args, **kwargs).arguments.items():
        if signature.parameters[p].kind is inspect.Parameter.VAR_KEYWORD:
            given.update(x)
        elif (x is None and signature.parameters[p].default is None) or \
                x is np._NoValue:
            continue  # (given as it is by default: ``dtype=None``, ``out=None``)
        else:
            given[p] = x
    return given


def _parts(x: Any) -> tuple[Any, ...]:
    """`x` as a tuple: its items if it is one (numpy's ``out=(a, b)``), else itself alone."""
    return x if isinstance(x, tuple) else (x,)


def _holds_floats(result: Any) -> bool:
    """Whether `result` (numpy's) holds real or complex numbers, anywhere in it (an object
    array's items too: ``np.cumsum(v, dtype=object)`` gives Python floats)."""
    if isinstance(result, list | tuple):
        return any(_holds_floats(x) for x in result)
    if isinstance(result, np.ndarray) and result.dtype.kind == "O":
        return any(_holds_floats(x) for x in result.flat)
    return isinstance(result, float | complex | np.inexact) or (
        isinstance(result, np.ndarray) and result.dtype.kind in "fc")
