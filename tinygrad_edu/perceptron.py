"""Rosenblatt's perceptron (1958), trained by his rule rather than by gradients.

`Perceptron.fit` records what each epoch did in a `PerceptronHistory`: it stops when an epoch
makes no error (converged) or when the weights come back to an earlier state (the data are not
linearly separable: XOR). `Perceptron.decision_boundary` gives the separating hyperplane.

>>> from tinygrad_edu.datasets import logic_gate
>>> from tinygrad_edu.perceptron import Perceptron
>>> p = Perceptron(2, zeros=True)
>>> history = p.fit(*logic_gate("or"))
>>> history.converged, history.updates, p.predict([[0, 0], [1, 0]]).tolist()
(True, 4, [0, 1])
>>> Perceptron(2, zeros=True).fit(*logic_gate("xor")).cycled
True
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tinygrad_edu._common import Seed, positive_int, random_generator
from tinygrad_edu.data import Array, as_data

__all__ = ["DecisionBoundary", "Perceptron", "PerceptronHistory"]


@dataclass
class PerceptronHistory:
    """What `Perceptron.fit` did: per epoch, the number of errors (= updates) and the weights
    at the end of the epoch.

    `converged` is True when an epoch made no error; `cycled` is True when training stopped
    because the weights came back to an earlier end-of-epoch state while errors remained: the
    same epochs would then repeat forever, so the data are not linearly separable.
    """

    initial_weights: Array
    errors: list[int] = field(default_factory=list)
    weights: list[Array] = field(default_factory=list)
    converged: bool = False
    cycled: bool = False

    @property
    def epochs(self) -> int:
        return len(self.errors)

    @property
    def updates(self) -> int:
        """The total number of weight updates (mistakes), the quantity Novikoff bounds."""
        return sum(self.errors)


@dataclass(frozen=True)
class DecisionBoundary:
    """The hyperplane bias + normal·x = 0 where a perceptron's prediction flips from 0 to 1."""

    bias: float
    normal: Array

    def side(self, X: Any) -> Array:
        """wᵀx for each row of `X`: positive on the side predicted 1."""
        return np.asarray(X, dtype=np.float64) @ self.normal + self.bias

    def x2(self, x1: Any) -> Any:
        """For two inputs: the x₂ on the line above `x1`, x₂ = −(w₀ + w₁x₁)/w₂."""
        if self.normal.shape != (2,):
            raise ValueError(f"x2() needs a boundary in 2 inputs; this one has {self.normal.size}")
        if self.normal[1] == 0.0:
            raise ValueError("the boundary is vertical (w₂ = 0): it is the line x₁ = "
                             f"{-self.bias / self.normal[0] if self.normal[0] else math.nan}")
        return -(self.bias + self.normal[0] * np.asarray(x1, dtype=np.float64)) / self.normal[1]


def _net_inputs(rows: Array, w: Array) -> Array:
    """wᵀx of each row, summed left to right (w₀x₀ + w₁x₁ + …): a sample's bits are the same
    alone (`fit`) as in a batch (`predict`). A matrix product may sum in another order, or
    fuse a multiply and an add, and then the two could disagree at a tie: wᵀx = 0 exactly
    one way, 7e-17 the other (tests/test_perceptron.py has such a sample)."""
    products = rows * w
    total = products[:, 0].copy()
    for column in products.T[1:]:
        total += column
    return total


class Perceptron:
    """Rosenblatt's perceptron (1958): ŷ = step(wᵀx) with x = (1, x₁, …, xₙ), so w₀ is the bias.

    `weights` is a 1-D array of nin + 1 numbers, bias first. They start random, as in the
    lecture, drawn from U(−1, 1) with `seed` (None: numpy's global random state, so
    ``np.random.seed(s)`` makes runs repeat), or at zero with ``zeros=True`` (the setting of
    Novikoff's convergence theorem). Either way they can be set directly.

    >>> from tinygrad_edu.datasets import logic_gate
    >>> X, y = logic_gate("and")
    >>> p = Perceptron(2, zeros=True)
    >>> history = p.fit(X, y)
    >>> history.converged, history.errors
    (True, [1, 3, 3, 2, 1, 0])
    >>> p.weights, p.predict(X)
    (array([-3.,  2.,  1.]), array([0, 0, 0, 1]))
    """

    def __init__(self, nin: int, *, seed: Seed = None, zeros: bool = False) -> None:
        self.nin = positive_int(nin, "Perceptron: nin (the number of inputs)")
        if zeros:
            self._weights = np.zeros(self.nin + 1)
        else:
            self._weights = random_generator(seed).uniform(-1.0, 1.0, self.nin + 1)

    @property
    def weights(self) -> Array:
        """(w₀, w₁, …, wₙ): the bias first, then one weight per input."""
        return self._weights

    @weights.setter
    def weights(self, new: Any) -> None:
        array = np.array(as_data(new, "Perceptron weights"), dtype=np.float64, ndmin=1)
        if array.shape != (self.nin + 1,):
            raise ValueError(f"Perceptron weights must have shape ({self.nin + 1},) (the bias "
                             f"first, then {self.nin} weights); got shape {array.shape}")
        self._weights = array

    def _augment(self, X: Any, who: str) -> tuple[Array, bool]:
        """Rows (1, x₁, …, xₙ) for a batch or one sample, and whether it was one sample."""
        array = np.asarray(as_data(X, f"the input of Perceptron.{who}"), dtype=np.float64)
        single = array.ndim == 1
        array = array.reshape(1, -1) if single else array
        if array.ndim != 2 or array.shape[1] != self.nin:
            raise ValueError(f"Perceptron.{who} expects {self.nin} input features per sample; "
                             f"got an input of shape {np.shape(X)}")
        return np.hstack([np.ones((len(array), 1)), array]), single

    def net_input(self, X: Any) -> Any:
        """wᵀx = w₀ + w₁x₁ + … + wₙxₙ for one sample (a float) or each row of a batch."""
        rows, single = self._augment(X, "net_input")
        z = _net_inputs(rows, self._weights)
        return float(z[0]) if single else z

    def predict(self, X: Any) -> Any:
        """step(wᵀx): 1 if wᵀx > 0 else 0, an int for one sample, an int array for a batch."""
        rows, single = self._augment(X, "predict")
        out = (_net_inputs(rows, self._weights) > 0.0).astype(np.int64)
        return int(out[0]) if single else out

    def fit(self, X: Any, y: Any, *, lr: float = 1.0, max_epochs: int = 100) -> PerceptronHistory:
        """Rosenblatt's rule, one example at a time, in order, epoch after epoch:

        on a wrong prediction, w ← w + lr·x if ŷ = 0 and y = 1, w ← w − lr·x if ŷ = 1 and y = 0;
        stop after an epoch without errors (converged), when the weights return to an earlier
        end-of-epoch state with errors remaining (a cycle: it would never converge), or after
        `max_epochs`.
        """
        rows, _ = self._augment(X, "fit")
        if not len(rows):
            raise ValueError("Perceptron.fit: X has no samples (shape "
                             f"{np.shape(X)}); there is nothing to learn from")
        finite = np.isfinite(rows).all(axis=1)
        if not finite.all():
            row = int(np.argmin(finite))
            raise ValueError(f"Perceptron.fit: sample {row} of X holds a nan or an infinity "
                             f"({rows[row, 1:].tolist()}); the rule needs finite inputs")
        labels = _binary_labels(y, len(rows), "Perceptron.fit")
        if not lr > 0.0:
            raise ValueError(f"Perceptron.fit: lr must be positive; got {lr!r}")
        max_epochs = positive_int(max_epochs, "Perceptron.fit: max_epochs")
        w = self._weights.copy()
        history = PerceptronHistory(initial_weights=w.copy())
        # The cycle test watches moved = (w − w_start)/lr, the signed sum of the samples added
        # so far: w comes back to an earlier state exactly when `moved` does, and `moved` does
        # not depend on the scale of lr (w itself may change by less than any tolerance in an
        # epoch when lr is tiny, or lose its small changes to rounding next to a large w_start).
        moved = np.zeros_like(w)
        earlier = [moved.copy()]
        feature_scale = np.abs(rows).max(axis=0)  # one update's size, per weight
        for _ in range(max_epochs):
            errors = 0
            for x, target in zip(rows, labels, strict=True):
                prediction = 1 if _net_inputs(x[np.newaxis], w)[0] > 0.0 else 0
                if prediction == 0 and target == 1:
                    w += lr * x
                    moved += x
                    errors += 1
                elif prediction == 1 and target == 0:
                    w -= lr * x
                    moved -= x
                    errors += 1
            history.errors.append(errors)
            history.weights.append(w.copy())
            if errors == 0:
                history.converged = True
                break
            # rounding only: relative to one update and to the sum (exact for integer inputs)
            tolerance = 1e-9 * np.maximum(feature_scale, np.abs(moved))
            if any(np.all(np.abs(moved - state) <= tolerance) for state in earlier):
                history.cycled = True
                break
            earlier.append(moved.copy())
        self._weights = w
        return history

    def decision_boundary(self) -> DecisionBoundary:
        """The hyperplane wᵀx = 0 (a line for two inputs) separating the two predictions.

        >>> p = Perceptron(2, zeros=True)
        >>> p.weights = [-1.5, 1.0, 1.0]
        >>> float(p.decision_boundary().x2(0.5))
        1.0
        """
        return DecisionBoundary(float(self._weights[0]), self._weights[1:].copy())

    def __repr__(self) -> str:
        return f"Perceptron({self.nin}, weights={np.array2string(self._weights, precision=4)})"


def _binary_labels(y: Any, n: int, who: str) -> Array:
    labels = np.asarray(as_data(y, f"the labels of {who}"), dtype=np.float64).reshape(-1)
    if labels.shape != (n,):
        raise ValueError(f"{who}: got {n} samples but {labels.size} labels")
    bad = labels[(labels != 0.0) & (labels != 1.0)]
    if bad.size:
        raise ValueError(f"{who}: labels must be 0 or 1; got {bad[0]:g}")
    return labels
