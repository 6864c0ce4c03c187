"""Hypothesis strategies for property-testing gradients (needs the `hypothesis` package).

Points are built away from kinks rather than filtered (no `assume`), so every example counts.
A `margin` must exceed gradcheck's step `eps` (1e-6 by default): a point closer to a kink than
eps has the central difference straddle it, and Hypothesis does draw the ends of a range.

>>> from hypothesis import given
>>> from tinygrad_edu.testing import gradcheck
>>> from tinygrad_edu.testing.strategies import arrays_away_from
>>> @given(arrays_away_from(kinks=(0.0,), shape=(3,)))
... def test_relu(x):
...     assert gradcheck(lambda v: v.relu(), x)
>>> test_relu()
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from tinygrad_edu.activations import ACTIVATIONS, Activation
from tinygrad_edu.engine import Value

__all__ = [
    "activations",
    "arrays_away_from",
    "broadcastable_shapes",
    "floats_away_from",
    "shapes",
    "values",
]


def shapes(*, min_dims: int = 0, max_dims: int = 3, min_side: int = 1,
           max_side: int = 4) -> st.SearchStrategy[tuple[int, ...]]:
    """Array shapes, () (a scalar) included when min_dims is 0."""
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side,
                            max_side=max_side)


def broadcastable_shapes(num_shapes: int = 2, *, max_dims: int = 3,
                         max_side: int = 4) -> st.SearchStrategy[tuple[tuple[int, ...], ...]]:
    """`num_shapes` shapes that broadcast together under numpy's rules, e.g. (3, 1) and (4,)."""
    return hnp.mutually_broadcastable_shapes(
        num_shapes=num_shapes, min_dims=0, max_dims=max_dims, min_side=1, max_side=max_side
    ).map(lambda result: result.input_shapes)


def floats_away_from(kinks: Sequence[float] = (), *, low: float = -3.0, high: float = 3.0,
                     margin: float = 1e-2) -> st.SearchStrategy[float]:
    """Floats in [low, high] at least `margin` (≥ 0) away from every kink.

    Built from the gaps between the kinks, so no example is thrown away. Keep `margin` above
    gradcheck's `eps`: x ± eps must stay on one side of the kink (or pole).
    """
    if isinstance(margin, bool) or not isinstance(margin, int | float | np.integer | np.floating) \
            or not 0 <= margin < math.inf:
        raise ValueError(f"floats_away_from: margin must be a finite number ≥ 0; got {margin!r}")
    pieces = []
    start = low
    for kink in sorted(kinks):  # step over [kink - margin, kink + margin] for every kink
        if kink - margin > start:
            pieces.append(st.floats(start, min(kink - margin, high), allow_nan=False))
        start = max(start, kink + margin)
        if start > high:
            break
    if start <= high:
        pieces.append(st.floats(start, high, allow_nan=False))
    if not pieces:
        raise ValueError(f"no room in [{low}, {high}] at least {margin} away from {kinks}")
    return st.one_of(*pieces)


def _as_shape(shape: Any) -> tuple[int, ...]:
    """`shape` as a tuple of ints: an int n is (n,), as numpy takes it."""
    try:
        sides = (shape,) if isinstance(shape, int | np.integer) else tuple(shape)
    except TypeError:
        raise TypeError(f"arrays_away_from: shape must be an int or a tuple of ints; got "
                        f"{shape!r}") from None
    if not all(isinstance(n, int | np.integer) and not isinstance(n, bool) and n >= 0
               for n in sides):
        raise ValueError(f"arrays_away_from: shape must hold ints ≥ 0; got {shape!r}")
    return tuple(int(n) for n in sides)


def arrays_away_from(kinks: Sequence[float] = (), *, shape: Any = (), low: float = -3.0,
                     high: float = 3.0, margin: float = 1e-2) -> st.SearchStrategy[Any]:
    """A float (shape ()) or a float64 array of `shape`: a shape (an int n is (n,), as in
    numpy) or a strategy of shapes. Elements as `floats_away_from` draws them."""
    elements = floats_away_from(kinks, low=low, high=high, margin=margin)
    shape_strategy = shape if isinstance(shape, st.SearchStrategy) else st.just(_as_shape(shape))

    def build(s: tuple[int, ...]) -> st.SearchStrategy[Any]:
        if s == ():
            return elements
        return hnp.arrays(np.float64, s, elements=elements)

    return shape_strategy.flatmap(build)


def values(*, shape: Any = (), low: float = -3.0, high: float = 3.0,
           kinks: Sequence[float] = (), margin: float = 1e-2) -> st.SearchStrategy[Value]:
    """Leaf Values: scalars for shape (), tensors otherwise (`shape` as `arrays_away_from`
    takes it), at least `margin` away from `kinks`."""
    return arrays_away_from(kinks, shape=shape, low=low, high=high, margin=margin).map(Value)


def activations() -> st.SearchStrategy[Activation]:
    """The registered activations (`tinygrad_edu.activations.ACTIVATIONS`)."""
    return st.sampled_from(sorted(ACTIVATIONS.values(), key=lambda a: a.name))
