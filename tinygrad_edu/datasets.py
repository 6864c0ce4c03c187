"""Small classification data sets, made with numpy from a seed.

Each returns ``(X, y)``: `X` a float64 array of shape (n, features), `y` integer labels of
shape (n,). The same seed gives the same data (``np.random.default_rng(seed)``); seed=None
draws from numpy's global random state, so ``np.random.seed(s)`` makes it repeat.

>>> from tinygrad_edu.datasets import logic_gate, make_moons
>>> X, y = logic_gate("xor")
>>> X.tolist(), y.tolist()
([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]], [0, 1, 1, 0])
>>> X, y = make_moons(100, seed=0)
>>> X.shape, y.shape, int(y.sum())
((100, 2), (100,), 50)
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from tinygrad_edu._common import Seed, positive_int, random_generator
from tinygrad_edu.data import Array

__all__ = ["GATES", "logic_gate", "make_circles", "make_moons", "make_spiral"]

Labels = np.ndarray[Any, np.dtype[np.int64]]

_TWO_INPUTS = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])

GATES: dict[str, tuple[Array, list[int]]] = {
    "and": (_TWO_INPUTS, [0, 0, 0, 1]),
    "or": (_TWO_INPUTS, [0, 1, 1, 1]),
    "nand": (_TWO_INPUTS, [1, 1, 1, 0]),
    "xor": (_TWO_INPUTS, [0, 1, 1, 0]),
    "not": (np.array([[0.0], [1.0]]), [1, 0]),
}
"""The truth tables: inputs (one row per case) and the gate's output."""


def logic_gate(name: str) -> tuple[Array, Labels]:
    """The truth table of a logic gate: ``"and" "or" "nand" "xor"`` (2 inputs) or ``"not"``.

    >>> logic_gate("not")[1].tolist()
    [1, 0]
    """
    key = name.lower() if isinstance(name, str) else name
    if key not in GATES:
        raise ValueError(f"unknown logic gate {name!r}; known gates: {', '.join(GATES)}")
    X, y = GATES[key]
    return X.copy(), np.array(y, dtype=np.int64)


def _check(n: Any, noise: Any, what: str) -> int:
    count = positive_int(n, what)
    if not (isinstance(noise, int | float | np.floating) and noise >= 0.0):
        raise ValueError(f"noise must be a non-negative number; got {noise!r}")
    return count


def _shuffled(rng: np.random.Generator, X: Array, y: Labels, noise: float) -> tuple[Array, Labels]:
    X = X + noise * rng.standard_normal(X.shape)
    order = rng.permutation(len(X))
    return X[order], y[order]


def make_moons(n: int, noise: float = 0.1, seed: Seed = None) -> tuple[Array, Labels]:
    """Two interleaved half circles: class 0 is (cos t, sin t), class 1 is
    (1 − cos t, 0.5 − sin t), t in [0, π]; Gaussian noise of std `noise`; shuffled.

    >>> X, y = make_moons(6, noise=0.0, seed=0)
    >>> sorted(np.round(X[y == 0, 0], 3).tolist())
    [-1.0, 0.0, 1.0]
    """
    n = _check(n, noise, "make_moons: n")
    rng = random_generator(seed)
    n_outer = (n + 1) // 2
    n_inner = n - n_outer
    t_outer = np.linspace(0.0, math.pi, n_outer)
    t_inner = np.linspace(0.0, math.pi, n_inner)
    outer = np.stack([np.cos(t_outer), np.sin(t_outer)], axis=1)
    inner = np.stack([1.0 - np.cos(t_inner), 0.5 - np.sin(t_inner)], axis=1)
    X = np.concatenate([outer, inner])
    y = np.concatenate([np.zeros(n_outer, np.int64), np.ones(n_inner, np.int64)])
    return _shuffled(rng, X, y, float(noise))


def make_circles(n: int, noise: float = 0.1, factor: float = 0.5,
                 seed: Seed = None) -> tuple[Array, Labels]:
    """Two concentric circles: class 0 of radius 1, class 1 of radius `factor` (0 < factor < 1);
    Gaussian noise of std `noise`; shuffled.

    >>> X, y = make_circles(8, noise=0.0, seed=0)
    >>> sorted(set(np.round(np.hypot(X[:, 0], X[:, 1]), 6).tolist()))
    [0.5, 1.0]
    """
    n = _check(n, noise, "make_circles: n")
    if not (isinstance(factor, int | float | np.floating) and 0.0 < factor < 1.0):
        raise ValueError(f"make_circles: factor (the inner radius) must be in (0, 1); "
                         f"got {factor!r}")
    rng = random_generator(seed)
    n_outer = (n + 1) // 2
    n_inner = n - n_outer
    t_outer = np.linspace(0.0, 2.0 * math.pi, n_outer, endpoint=False)
    t_inner = np.linspace(0.0, 2.0 * math.pi, n_inner, endpoint=False)
    outer = np.stack([np.cos(t_outer), np.sin(t_outer)], axis=1)
    inner = factor * np.stack([np.cos(t_inner), np.sin(t_inner)], axis=1)
    X = np.concatenate([outer, inner])
    y = np.concatenate([np.zeros(n_outer, np.int64), np.ones(n_inner, np.int64)])
    return _shuffled(rng, X, y, float(noise))


def make_spiral(n_per_class: int, noise: float = 0.05, seed: Seed = None, *,
                turns: float = 1.0) -> tuple[Array, Labels]:
    """Two interleaved spiral arms, class k at radius r = t and angle 2π·turns·t + kπ for
    t in [0.05, 1]; Gaussian noise of std `noise`; shuffled.

    >>> X, y = make_spiral(50, seed=0)
    >>> X.shape, np.bincount(y).tolist()
    ((100, 2), [50, 50])
    """
    n = _check(n_per_class, noise, "make_spiral: n_per_class")
    if not (isinstance(turns, int | float | np.floating) and turns > 0.0):
        raise ValueError(f"make_spiral: turns must be a positive number; got {turns!r}")
    rng = random_generator(seed)
    t = np.linspace(0.05, 1.0, n)
    arms = []
    for k in range(2):
        angle = 2.0 * math.pi * turns * t + k * math.pi
        arms.append(np.stack([t * np.cos(angle), t * np.sin(angle)], axis=1))
    X = np.concatenate(arms)
    y = np.repeat(np.arange(2, dtype=np.int64), n)
    return _shuffled(rng, X, y, float(noise))
