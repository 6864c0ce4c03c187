"""Functions that build one Value from several: `concatenate`, `stack`, `where`, `maximum`,
`minimum`; and `broadcast_to`, as numpy has it.

Each checks its arguments, with messages that name the shapes, then applies one primitive
of the derivative table.

>>> from tinygrad_edu import Value
>>> concatenate([Value([1.0, 2.0]), Value([3.0])]).data
array([1., 2., 3.])
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tinygrad_edu import engine, ops
from tinygrad_edu.data import data_of
from tinygrad_edu.engine import Value, constant
from tinygrad_edu.kernels import normalize_axis

__all__ = ["broadcast_to", "concatenate", "maximum", "minimum", "stack", "where"]


def _values(xs: Any, op: str) -> list[Value]:
    if isinstance(xs, Value) or not isinstance(xs, list | tuple):
        raise TypeError(f"{op} takes a list or tuple of Values/arrays; got {type(xs).__name__}")
    if not xs:
        raise ValueError(f"{op} needs at least one Value")
    return [constant(x) for x in xs]


def concatenate(values: Any, axis: int = 0) -> Value:
    """Join Values along an existing axis, as `numpy.concatenate`.

    >>> concatenate([Value([[1.0], [2.0]]), Value([[3.0], [4.0]])], axis=1).shape
    (2, 2)
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
    (ax,) = normalize_axis(axis, len(shapes[0]) + 1, "stack") or (0,)
    return engine.apply(ops.STACK, *parts, axis=ax)


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
