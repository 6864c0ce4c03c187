"""Hypothesis strategies for property-testing gradients (needs the `hypothesis` package).

Points are built away from kinks rather than filtered (no `assume`), so every example counts.

>>> from hypothesis import given
>>> from tinygrad_edu.testing import gradcheck
>>> from tinygrad_edu.testing.strategies import arrays_away_from
>>> @given(arrays_away_from(kinks=(0.0,), shape=(3,)))
... def test_relu(x):
...     assert gradcheck(lambda v: v.relu(), x)
>>> test_relu()
"""

from __future__ import annotations

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
    """Floats in [low, high] at least `margin` away from every kink.

    Built from the gaps between the kinks, so no example is thrown away.
    """
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


def arrays_away_from(kinks: Sequence[float] = (), *, shape: Any = (), low: float = -3.0,
                     high: float = 3.0, margin: float = 1e-2) -> st.SearchStrategy[Any]:
    """A float (shape ()) or a float64 array of `shape` (a shape or a strategy of shapes)."""
    elements = floats_away_from(kinks, low=low, high=high, margin=margin)
    shape_strategy = shape if isinstance(shape, st.SearchStrategy) else st.just(tuple(shape))

    def build(s: tuple[int, ...]) -> st.SearchStrategy[Any]:
        if s == ():
            return elements
        return hnp.arrays(np.float64, s, elements=elements)

    return shape_strategy.flatmap(build)


def values(*, shape: Any = (), low: float = -3.0, high: float = 3.0,
           kinks: Sequence[float] = (), margin: float = 1e-2) -> st.SearchStrategy[Value]:
    """Leaf Values: scalars for shape (), tensors otherwise, away from `kinks`."""
    return arrays_away_from(kinks, shape=shape, low=low, high=high, margin=margin).map(Value)


def activations() -> st.SearchStrategy[Activation]:
    """The registered activations (`tinygrad_edu.activations.ACTIVATIONS`)."""
    return st.sampled_from(sorted(ACTIVATIONS.values(), key=lambda a: a.name))
