"""Training helpers the lecture's examples share: full-batch training, accuracy, progress bars.

Training is batched: the whole data set goes through a model as one 2-D array, one matrix
product per layer, and every step updates the parameters once.

>>> from tinygrad_edu.datasets import logic_gate
>>> from tinygrad_edu.nn import MLP
>>> from tinygrad_edu.training import accuracy, train_binary
>>> X, y = logic_gate("xor")
>>> model = MLP(2, [4, 1], activation="tanh", seed=0)
>>> losses = train_binary(model, X, y, steps=300, lr=0.05)
>>> accuracy(model, X, y), losses[-1] < 0.05
(1.0, True)
"""

from __future__ import annotations

import sys
from typing import Any, Protocol

import numpy as np

from tinygrad_edu.engine import Value, no_grad
from tinygrad_edu.losses import binary_cross_entropy_with_logits
from tinygrad_edu.nn import Module
from tinygrad_edu.optim import SGD, Adam, Optimizer
from tinygrad_edu.plots import decision_threshold

__all__ = ["NoProgressBar", "ProgressBar", "accuracy", "progress_bar", "train_binary"]


class ProgressBar(Protocol):
    """What the examples use of a tqdm bar."""

    def update(self, n: int = 1) -> Any:
        """Advance the bar by `n` steps."""

    def close(self) -> None:
        """Remove the bar."""


class NoProgressBar:
    """Stands in for a tqdm bar when there is none: it shows nothing."""

    def update(self, n: int = 1) -> None:
        """Do nothing."""

    def close(self) -> None:
        """Do nothing."""


def progress_bar(total: int, description: str, enabled: bool) -> ProgressBar:
    """A tqdm progress bar on stderr, shown only for work that takes more than a second.

    Without tqdm (an optional extra), or with `enabled` False, a `NoProgressBar`.
    """
    if not enabled:
        return NoProgressBar()
    try:
        from tqdm import tqdm
    except ImportError:
        return NoProgressBar()
    bar: ProgressBar = tqdm(total=total, desc=description, delay=1.0, leave=False,
                            file=sys.stderr, unit="step", dynamic_ncols=True)
    return bar


def accuracy(model: Any, X: Any, y: Any) -> float:
    """The fraction of samples `model` classifies right: class 1 where its single output is
    above `plots.decision_threshold` (0 for a logit or a score, 0.5 for a sigmoid output),
    or the argmax of several outputs.

    >>> from tinygrad_edu.nn import Neuron
    >>> n = Neuron(2)
    >>> n.weights.data[:] = [1.0, 0.0]; n.bias.data = 0.0
    >>> accuracy(n, [[1.0, 5.0], [-1.0, 5.0], [2.0, 0.0]], [1, 0, 0])
    0.6666666666666666
    """
    labels = np.asarray(y).reshape(-1)
    with no_grad():
        out = model(np.asarray(X, dtype=np.float64))
    scores = np.asarray(out.data if isinstance(out, Value) else out, dtype=np.float64)
    if scores.ndim == 2 and scores.shape[1] > 1:
        predicted = scores.argmax(axis=1)
    else:
        predicted = (scores.reshape(-1) > decision_threshold(model)).astype(np.int64)
    return float(np.mean(predicted == labels))


def train_binary(model: Module, X: Any, y: Any, *, steps: int, lr: float,
                 optimizer: str = "adam", bar: ProgressBar | None = None) -> list[float]:
    """Train a one-output model on 0/1 labels with binary cross-entropy on its logits, the
    whole batch at every step; returns the loss before each step.

    `optimizer` is ``"adam"`` or ``"sgd"``; `bar` (a progress bar) is advanced once a step.
    """
    X = np.asarray(X, dtype=np.float64)
    target = np.asarray(y, dtype=np.float64).reshape(-1)
    opt: Optimizer
    if optimizer == "adam":
        opt = Adam(model.parameters(), lr=lr)
    elif optimizer == "sgd":
        opt = SGD(model.parameters(), lr=lr)
    else:
        raise ValueError(f"optimizer must be 'adam' or 'sgd'; got {optimizer!r}")
    losses = []
    for _ in range(steps):
        loss = binary_cross_entropy_with_logits(model(X), target)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.data))
        if bar is not None:
            bar.update(1)
    return losses
