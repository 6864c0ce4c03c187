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
from tinygrad_edu.kernels import is_number

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

    def __post_init__(self) -> None:
        normal = np.array(as_data(self.normal, "DecisionBoundary: normal"), dtype=np.float64,
                          ndmin=1)
        if normal.ndim != 1:
            raise ValueError(f"DecisionBoundary: normal must be 1-D (one weight per input); "
                             f"got shape {normal.shape}")
        object.__setattr__(self, "normal", normal)
        object.__setattr__(self, "bias", float(as_data(self.bias, "DecisionBoundary: bias")))

    def side(self, X: Any) -> Any:
        """wᵀx for each row of `X` (a float for one sample): positive exactly where a
        `Perceptron` with these weights predicts 1 (summed in the same order)."""
        array = np.asarray(as_data(X, "the input of DecisionBoundary.side"), dtype=np.float64)
        rows = array.reshape(1, -1) if array.ndim == 1 else array
        if rows.ndim != 2 or rows.shape[1] != self.normal.size:
            raise ValueError(f"DecisionBoundary.side expects {self.normal.size} input features "
                             f"per sample; got an input of shape {array.shape}")
        weights = np.concatenate([[self.bias], self.normal])
        z = _net_inputs(np.hstack([np.ones((len(rows), 1)), rows]), weights)
        return z[0] if array.ndim == 1 else z

    def x2(self, x1: Any) -> Any:
        """For two inputs: the x₂ on the line above `x1`, x₂ = −(w₀ + w₁x₁)/w₂."""
        if self.normal.shape != (2,):
            raise ValueError(f"x2() needs a boundary in 2 inputs; this one has {self.normal.size}")
        if self.normal[1] == 0.0:
            if self.normal[0] == 0.0:
                everywhere = 1 if self.bias > 0.0 else 0
                raise ValueError(f"there is no boundary line: w₁ = w₂ = 0, so wᵀx = w₀ = "
                                 f"{self.bias:g} everywhere and every point is predicted "
                                 f"{everywhere}")
            with np.errstate(all="ignore"):
                line = -self.bias / self.normal[0]
            raise ValueError(f"the boundary is vertical (w₂ = 0): it is the line x₁ = {line:g}")
        x1 = np.asarray(as_data(x1, "DecisionBoundary.x2: x1"), dtype=np.float64)
        with np.errstate(all="ignore"):  # IEEE results, as numpy's and PyTorch's floats
            return -(self.bias + self.normal[0] * x1) / self.normal[1]


def _net_inputs(rows: Array, w: Array) -> Array:
    """wᵀx of each row, summed left to right (w₀x₀ + w₁x₁ + …): a sample's bits are the same
    alone (`fit`) as in a batch (`predict`). A matrix product may sum in another order, or
    fuse a multiply and an add, and then the two could disagree at a tie: wᵀx = 0 exactly
    one way, 7e-17 the other (tests/test_perceptron.py has such a sample)."""
    with np.errstate(all="ignore"):  # IEEE results (inf, nan), silently: callers judge them
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
        _check_finite_weights(array, "Perceptron weights")
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
        z = _net_inputs(rows, self._weights)
        undefined = np.isnan(z)
        if undefined.any():  # nan > 0 is False: it would be a silent class 0
            row = int(np.argmax(undefined))
            raise ValueError(f"Perceptron.predict: wᵀx is nan for sample {row} "
                             f"({rows[row, 1:].tolist()}) with weights "
                             f"{self._weights.tolist()}: no class can be given (a nan in the "
                             f"input or the weights, or inf − inf)")
        out = (z > 0.0).astype(np.int64)
        return int(out[0]) if single else out

    def fit(self, X: Any, y: Any, *, lr: float = 1.0, max_epochs: int = 100) -> PerceptronHistory:
        """Rosenblatt's rule, one example at a time, in order, epoch after epoch:

        on a wrong prediction, w ← w + lr·x if ŷ = 0 and y = 1, w ← w − lr·x if ŷ = 1 and y = 0;
        stop after an epoch without errors (converged), when the weights return to an earlier
        end-of-epoch state with errors remaining (a cycle: it would never converge), or after
        `max_epochs`. Weights that overflow to infinity raise a ValueError (and are not kept).
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
        if not (is_number(lr) and 0.0 < lr < math.inf):
            raise ValueError(f"Perceptron.fit: lr must be positive and finite (a number); "
                             f"got {lr!r}")
        max_epochs = positive_int(max_epochs, "Perceptron.fit: max_epochs")
        _check_finite_weights(self._weights, "Perceptron.fit: the starting weights")
        w = self._weights.copy()
        history = PerceptronHistory(initial_weights=w.copy())
        # The cycle test watches moved = (w − w_start)/lr, the signed sum of the samples added
        # so far: w comes back to an earlier state exactly when `moved` does, and `moved` does
        # not depend on the scale of lr (w itself may change by less than any rounding in an
        # epoch when lr is tiny). `moved` is kept in integers (each input column in units of
        # its smallest power of two), so it is exact: two sums that differ by a hair are two
        # states, never one (a tolerance called separable data with a tiny margin a cycle).
        exact = _exact_rows(rows)
        moved = np.zeros(len(w), dtype=object)
        earlier = {tuple(moved)}
        for _ in range(max_epochs):
            errors = 0
            with np.errstate(over="ignore", invalid="ignore"):  # an overflow is refused below
                for x, x_exact, target in zip(rows, exact, labels, strict=True):
                    prediction = 1 if _net_inputs(x[np.newaxis], w)[0] > 0.0 else 0
                    if prediction == 0 and target == 1:
                        w += lr * x
                        moved += x_exact
                        errors += 1
                    elif prediction == 1 and target == 0:
                        w -= lr * x
                        moved -= x_exact
                        errors += 1
            history.errors.append(errors)
            history.weights.append(w.copy())
            if not np.isfinite(w).all():
                raise ValueError(f"Perceptron.fit: the weights overflowed to {w.tolist()} in "
                                 f"epoch {history.epochs} (lr = {lr!r}, inputs up to "
                                 f"{np.abs(rows).max():g}); use a smaller lr or scale the "
                                 f"inputs")
            if errors == 0:
                history.converged = True
                break
            state = tuple(moved)
            if state in earlier:
                history.cycled = True
                break
            earlier.add(state)
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


def _check_finite_weights(weights: Array, what: str) -> None:
    """A ValueError naming `what` if a weight is nan or infinite (the rule cannot move it)."""
    if not np.isfinite(weights).all():
        raise ValueError(f"{what} must be finite; got {weights.tolist()}")


def _exact_rows(rows: Array) -> Array:
    """`rows` as Python integers (an object array): column j in units of 2**e_j, the smallest
    power of two its numbers are multiples of, so that sums of rows are exact and compare
    exactly (every float is an integer times a power of two)."""
    mantissas, exponents = np.frexp(rows)
    integers = (mantissas * 2.0**53).astype(np.int64)  # exact: 53 bits of mantissa
    exponents = exponents - 53
    out = np.zeros(rows.shape, dtype=object)
    for j in range(rows.shape[1]):
        nonzero = integers[:, j] != 0
        lowest = int(exponents[nonzero, j].min()) if nonzero.any() else 0
        out[:, j] = [int(m) << (int(e) - lowest) if m else 0
                     for m, e in zip(integers[:, j], exponents[:, j], strict=True)]
    return out


def _binary_labels(y: Any, n: int, who: str) -> Array:
    given = np.asarray(as_data(y, f"the labels of {who}"), dtype=np.float64)
    if given.shape not in ((n,), (n, 1)):  # one label per sample (a column is one too)
        count = (f"{given.size} labels" if given.size != n
                 else f"labels of shape {given.shape}, expected ({n},)")
        raise ValueError(f"{who}: got {n} samples but {count}")
    labels = given.reshape(-1)
    bad = labels[(labels != 0.0) & (labels != 1.0)]
    if bad.size:
        hint = (" (for labels −1/+1, pass (y + 1) // 2)" if set(labels.tolist()) <= {-1.0, 1.0}
                else "")
        raise ValueError(f"{who}: labels must be 0 or 1; got {bad[0]:g}{hint}")
    return labels
