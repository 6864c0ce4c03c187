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
from collections.abc import Collection, Sequence
from typing import Any

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from tinygrad_edu.activations import ACTIVATIONS, Activation
from tinygrad_edu.engine import Value
from tinygrad_edu.kernels import is_number

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


def _number(who: str, name: str, x: Any) -> float:
    """`x` as a float, refused unless it is a finite real number (not a bool)."""
    if not (is_number(x) and math.isfinite(x)):
        raise ValueError(f"{who}: {name} must be a finite number; got {x!r}")
    return float(x)


def _kinks(who: str, kinks: Any) -> tuple[float, ...]:
    """`kinks` as a tuple of finite floats: a collection of numbers, such as (0.0,)."""
    try:
        if isinstance(kinks, str | bytes):
            raise TypeError
        points = tuple(kinks)
    except TypeError:
        raise TypeError(f"{who}: kinks must be a collection of numbers, such as (0.0,); got "
                        f"{kinks!r} (type {type(kinks).__name__})") from None
    return tuple(_number(who, "every kink", k) for k in points)


def floats_away_from(kinks: Collection[float] = (), *, low: float = -3.0, high: float = 3.0,
                     margin: float = 1e-2) -> st.SearchStrategy[float]:
    """Floats in [low, high] (finite, low ≤ high) at least `margin` (≥ 0) away from every kink.

    Built from the gaps between the kinks, so no example is thrown away. Keep `margin` above
    gradcheck's `eps`: x ± eps must stay on one side of the kink (or pole).
    """
    who = "floats_away_from"
    if not (is_number(margin) and 0 <= margin < math.inf):
        raise ValueError(f"{who}: margin must be a finite number ≥ 0; got {margin!r}")
    kinks = _kinks(who, kinks)
    low, high = _number(who, "low", low), _number(who, "high", high)
    if low > high:
        raise ValueError(f"{who}: low must be ≤ high; got low={low!r}, high={high!r}")
    pieces = [st.floats(a, b, allow_nan=False) for a, b in _gaps(kinks, low, high, margin)]
    if not pieces:
        raise ValueError(f"{who}: no room in [{low}, {high}] at least {margin} away from "
                         f"{_shown(kinks)}")
    return st.one_of(*pieces)


def _gaps(kinks: Sequence[float], low: float, high: float,
          margin: float) -> list[tuple[float, float]]:
    """The intervals of [low, high] at least `margin` away from every kink, in order."""
    gaps = []
    start = low
    for kink in sorted(kinks):  # step over [kink - margin, kink + margin] for every kink
        below, above = kink - margin, kink + margin
        # (each moved out until it is `margin` away as a float: 1.0 - 0.1 is 0.9, and
        # 1.0 - 0.9 is 0.09999999999999998; by steps of the margin's last digit, since a
        # distance is rounded at its scale: one float at a time would take 2**60 steps near 0)
        while kink - below < margin:
            below -= max(math.ulp(below), math.ulp(margin))
        while above - kink < margin:
            above += max(math.ulp(above), math.ulp(margin))
        if below > start:
            gaps.append((start, min(below, high)))
        start = max(start, above)
        if start > high:
            break
    if start <= high:
        gaps.append((start, high))
    return gaps


def _shown(kinks: tuple[float, ...]) -> str:
    """The kinks for a message: all of them, or the first few and how many there are."""
    if len(kinks) <= 6:
        return repr(kinks)
    return f"{len(kinks)} kinks ({', '.join(map(repr, kinks[:3]))}, ...)"


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


def _distinct(kinks: tuple[float, ...], shape: tuple[int, ...], low: float, high: float,
              margin: float) -> st.SearchStrategy[Any]:
    """Arrays of more than one element, each at least `margin` from the others and from the
    kinks.

    Built, not filtered: the gaps between the kinks are laid end to end on one line, the
    elements drawn on it with room taken off, and the k-th smallest moved up by k·margin;
    then put back into the gaps (the space between two gaps only adds to a distance).
    """
    size = math.prod(shape)
    gaps = _gaps(kinks, low, high, margin)
    room = sum(b - a for a, b in gaps) - (size - 1) * margin
    if not gaps or room < 0:
        raise ValueError(
            f"arrays_away_from: {size} distinct elements (shape {shape}), at least {margin} "
            f"apart{f' and from the kinks {_shown(kinks)}' if kinks else ''}, do not fit in "
            f"[{low}, {high}]: widen the range, or give a smaller margin or shape")
    starts = np.cumsum([0.0] + [b - a for a, b in gaps])  # where each gap begins on the line
    firsts = np.array([a for a, _ in gaps])  # and where it begins in [low, high]

    def place(line: list[float]) -> Any:
        ranks = np.argsort(np.argsort(line, kind="stable"), kind="stable")
        spread = np.array(line) + ranks * margin
        which = np.clip(np.searchsorted(starts, spread, side="right") - 1, 0, len(gaps) - 1)
        points = np.minimum(firsts[which] + (spread - starts[which]), high)
        return points.astype(np.float64).reshape(shape)

    line = st.lists(st.floats(0.0, room, allow_nan=False), min_size=size, max_size=size)
    return line.map(place)


def arrays_away_from(kinks: Collection[float] = (), *, shape: Any = (), low: float = -3.0,
                     high: float = 3.0, margin: float = 1e-2,
                     distinct: bool = False) -> st.SearchStrategy[Any]:
    """A float (shape ()) or a float64 array of `shape`: a shape (an int n is (n,), as in
    numpy) or a strategy of shapes. Elements as `floats_away_from` draws them.

    With ``distinct=True`` the elements are also at least `margin` apart from each other:
    points away from the kink of `max` and `min`, a tie. (For ``maximum(a, b)``, draw one
    array of shape ``(2, ...)`` and split it.)
    """
    elements = floats_away_from(kinks, low=low, high=high, margin=margin)
    if not isinstance(distinct, bool | np.bool_):
        raise TypeError(f"arrays_away_from: distinct must be True or False; got {distinct!r}")
    shape_strategy = shape if isinstance(shape, st.SearchStrategy) else st.just(_as_shape(shape))
    points = _kinks("arrays_away_from", kinks)

    def build(s: tuple[int, ...]) -> st.SearchStrategy[Any]:
        if s == ():
            return elements
        if distinct and math.prod(s) > 1:  # (one element or none: nothing to keep apart)
            return _distinct(points, s, float(low), float(high), float(margin))
        return hnp.arrays(np.float64, s, elements=elements)

    return shape_strategy.flatmap(build)


def values(*, shape: Any = (), low: float = -3.0, high: float = 3.0,
           kinks: Collection[float] = (), margin: float = 1e-2,
           distinct: bool = False) -> st.SearchStrategy[Value]:
    """Leaf Values: scalars for shape (), tensors otherwise (`shape` as `arrays_away_from`
    takes it), at least `margin` away from `kinks` (and from each other, if `distinct`)."""
    return arrays_away_from(kinks, shape=shape, low=low, high=high, margin=margin,
                            distinct=distinct).map(Value)


def activations() -> st.SearchStrategy[Activation]:
    """The registered activations (`tinygrad_edu.activations.ACTIVATIONS`)."""
    return st.sampled_from(sorted(ACTIVATIONS.values(), key=lambda a: a.name))
