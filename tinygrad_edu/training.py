"""Training helpers the examples share: full-batch and mini-batch training, accuracy, the
confusion matrix, progress bars.

Training is batched: a batch goes through a model as one 2-D array, one matrix product per
layer, and every step updates the parameters once. `train_binary` takes the whole data set at
every step (the lecture's toy sets); `train_classifier` takes the mini-batches of a
`datasets.DataLoader`, epoch after epoch, and records the loss and accuracy on the training
and the test data after each epoch (a `History`): the curves that show generalisation.

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

import math
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from tinygrad_edu._common import plural, positive_int
from tinygrad_edu.data import Labels, class_indices, rows_of
from tinygrad_edu.datasets import DataLoader
from tinygrad_edu.engine import Value, no_grad
from tinygrad_edu.losses import binary_cross_entropy_with_logits, cross_entropy
from tinygrad_edu.nn import Module
from tinygrad_edu.optim import SGD, Adam, Optimizer
from tinygrad_edu.plots import (
    PROBABILITY_OUTPUTS,
    checked_threshold,
    decision_threshold,
    lowest_loss_epoch,
    model_outputs,
    output_activation_name,
    predicts_classes,
    refuse_threshold,
)

__all__ = [
    "History",
    "NoProgressBar",
    "ProgressBar",
    "accuracy",
    "confusion_matrix",
    "evaluate",
    "one_blas_thread",
    "predict",
    "progress_bar",
    "train_binary",
    "train_classifier",
]


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


@contextmanager
def one_blas_thread() -> Iterator[None]:
    """Within it, numpy's matrix products use one thread (with threadpoolctl, which comes
    with scikit-learn; without it, nothing changes). The matrices of small networks are too
    small for more: the threads wait for each other, the more so on a busy machine (training
    the digits took 3 times the CPU time with two threads, 20 times with two hidden layers).
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        yield
        return
    with threadpool_limits(limits=1, user_api="blas"):
        yield


def _classes(model: Any, X: Any, threshold: float | None,
             who: str) -> tuple[Labels, int | None, bool]:
    """The class `model` gives each sample of `X` (as `predict` documents), how many classes
    it can give (None when the model gives them itself) and whether `X` is one sample."""
    threshold = checked_threshold(threshold, who)
    array = rows_of(X, who, "X", numbers=True)
    one = array.ndim == 1
    if predicts_classes(model):
        if threshold is not None:
            refuse_threshold(who, model)
        given = model.predict(array)  # (0.7 or nan as int64 were classes 0 and -2**63)
        samples = 1 if one else len(array)
        return class_indices([given] if one and np.ndim(given) == 0 else given,
                             f"{who}: {type(model).__name__}.predict", "its classes",
                             n=samples, signs=False), None, one
    out = model_outputs(model, array, who)
    scores = np.asarray(out.data if isinstance(out, Value) else out, dtype=np.float64)
    samples = 1 if one else len(array)
    if one:  # one sample: its outputs, or its one output
        scores = scores.reshape(1, -1)
    elif scores.ndim == 1 or (scores.ndim == 0 and samples == 1):
        scores = scores.reshape(-1, 1)
    if scores.ndim != 2 or len(scores) != samples:
        raise ValueError(f"{who}: the model should give one row of outputs per sample, "
                         f"({samples}, outputs) for X of shape {array.shape}; it gave shape "
                         f"{np.shape(out.data if isinstance(out, Value) else out)}")
    if not scores.shape[1]:  # (numpy's IndexError, before)
        raise ValueError(f"{who}: the model gave no output (shape {scores.shape}) for X of "
                         f"shape {array.shape}; a class needs at least one output per sample")
    lost = np.isnan(scores).any(axis=1)
    if lost.any():  # (argmax or a threshold would make a class out of it)
        raise ValueError(f"{who}: the model's output is nan for {int(lost.sum())} of "
                         f"{plural(samples, 'sample')} (first: sample {int(np.argmax(lost))}); "
                         f"a nan has no class. Did training diverge (a learning rate too "
                         f"large)?")
    if scores.shape[1] > 1:
        if threshold is not None:
            refuse_threshold(who, model, scores.shape[1])
        return scores.argmax(axis=1), scores.shape[1], one
    if not samples:  # (nothing to classify, nor to look at for a threshold)
        return np.zeros(0, dtype=np.int64), 2, one
    try:
        cut = decision_threshold(model, array if one else array[:1]) if threshold is None \
            else threshold
    except ValueError as error:  # an output whose kind is unknown
        raise ValueError(f"{who}: {error}") from None
    return (scores[:, 0] > cut).astype(np.int64), 2, one


def predict(model: Any, X: Any, *, threshold: float | None = None) -> Labels:
    """The class `model` gives each row of `X`: the argmax of several outputs, or 1 where its
    single output is above `threshold`, else 0. No graph is kept.

    `threshold` defaults to `plots.decision_threshold` (0 for a logit or a score, 0.5 for a
    sigmoid output). The library's models (`nn`'s, micrograd's) tell their output activation
    by their structure; one that is a callable of your own needs `threshold` given. Any other
    model (a `Module` of your own, a function) tells it by the last operation of its output,
    recorded for one sample: a sigmoid, or ``x @ W + b`` (a logit); where that tells nothing
    (an ``exp``, a sigmoid written out by hand, no recorded operation), a ValueError asks for
    `threshold`. A function that gives numbers, not a Value, gives logits or scores.
    A `Perceptron` (or any model with ``predict`` and no ``forward``) gives its classes
    itself; a model of `tinygrad_edu.micrograd`, which takes one sample per call (a list of
    numbers), is called on each row. A 1-D `X` is one sample, as for the model itself:
    its class comes as a 0-d array (``int(predict(model, x))``), without the batch axis.
    An output that is nan (training diverged) has no class: a `ValueError` says so.

    >>> from tinygrad_edu.nn import MLP
    >>> predict(MLP(2, [3], seed=0), [[0.0, 0.0], [5.0, -5.0]]).tolist()
    [1, 0]
    >>> int(predict(MLP(2, [3], seed=0), [5.0, -5.0]))
    0
    """
    classes, _, one = _classes(model, X, threshold, "predict")
    return classes.reshape(()) if one else classes


def _shown(values: Any) -> str:
    """The first values of an array, for an error message."""
    return f"{values[:5].tolist()}{' ...' if len(values) > 5 else ''}"


_RENUMBER = ("; number other labels first: names, codes = np.unique(np.concatenate([y_true, "
             "y_pred]), return_inverse=True); y_true, y_pred = np.split(codes, 2)")
"""How to turn labels that are not class indices into class indices, for an error message."""


def accuracy(model: Any, X: Any, y: Any, *, threshold: float | None = None) -> float:
    """The fraction of samples `model` classifies right (its classes as `predict` gives them,
    with `threshold`); a 1-D `X` is one sample, with one label.

    The labels, one a sample (a vector, a row or a column), are class indices: 0 and 1 for a
    model with one output, 0..k-1 for k outputs; others (±1, strings, 0.5) are refused, not
    counted wrong.

    >>> from tinygrad_edu.nn import Neuron
    >>> n = Neuron(2)
    >>> n.weights.data[:] = [1.0, 0.0]; n.bias.data = 0.0
    >>> accuracy(n, [[1.0, 5.0], [-1.0, 5.0], [2.0, 0.0]], [1, 0, 0])
    0.6666666666666666
    """
    classes, count, _ = _classes(model, X, threshold, "predict")  # (its classes, its words)
    predicted = classes.reshape(-1)
    try:
        labels = np.asarray(y)
    except (TypeError, ValueError):  # (a ragged y: numpy's message names no labels)
        class_indices(y, "accuracy", "y")  # (it says what y is)
        raise
    if labels.size != predicted.size:  # (one label would be compared with every sample)
        raise ValueError(f"accuracy: {plural(len(predicted), 'sample')} in X but "
                         f"{plural(labels.size, 'label')} in y; give one label per sample")
    if not labels.size:
        raise ValueError(f"accuracy: no samples (X of shape {np.shape(X)}); the fraction "
                         "right of no samples is undefined")
    if sum(side != 1 for side in labels.shape) > 1:  # (not read row by row)
        raise ValueError(f"accuracy: y must be one label per sample, a vector, a row or a "
                         f"column of {len(predicted)}; got shape {labels.shape}")
    labels = class_indices(labels.reshape(-1), "accuracy", "y", classes=count)
    return float(np.mean(predicted == labels))


def train_binary(model: Module, X: Any, y: Any, *, steps: int, lr: float,
                 optimizer: str = "adam", bar: ProgressBar | None = None) -> list[float]:
    """Train a one-output model on 0/1 labels with binary cross-entropy on its logits, the
    whole batch at every step; returns the loss before each step.

    `optimizer` is ``"adam"`` or ``"sgd"``; `bar` (a progress bar) is advanced once a step.
    """
    if isinstance(steps, bool) or not isinstance(steps, int | np.integer) or steps < 0:
        raise ValueError(f"train_binary: steps must be an integer ≥ 0; got {steps!r}")
    try:
        X = np.asarray(X, dtype=np.float64)
    except (TypeError, ValueError):  # (numpy's "could not convert string to float: 'a'")
        raise ValueError(f"train_binary: X must be an array of numbers, one row a sample; got "
                         f"{type(X).__name__}") from None
    try:
        target = np.asarray(y, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        raise ValueError(f"train_binary: y must hold the labels 0 and 1 (numbers); got "
                         f"{_shown(np.asarray(y, dtype=object).reshape(-1))}") from None
    try:
        output = output_activation_name(model, X[:1]) if X.ndim == 2 and len(X) else None
    except ValueError:  # (an output activation of the user's own: taken as a logit)
        output = None
    if output in PROBABILITY_OUTPUTS:
        raise ValueError(
            f"train_binary: the model's output goes through {output} already, but the loss is "
            "binary cross-entropy on logits, which applies σ itself: σ twice, and a loss that "
            "stops far above 0 on data it classifies right. Give the model no output "
            "activation (output_activation=None); σ(output) is then the probability")
    opt: Optimizer
    if optimizer == "adam":
        opt = Adam(model.parameters(), lr=lr)
    elif optimizer == "sgd":
        opt = SGD(model.parameters(), lr=lr)
    else:
        raise ValueError(f"train_binary: optimizer must be 'adam' or 'sgd'; got "
                         f"{optimizer!r}")
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


def evaluate(model: Any, X: Any, y: Any) -> tuple[float, float]:
    """The mean cross-entropy of `model`'s outputs (logits, one column per class) on `X` and
    integer labels `y`, and its accuracy (nan where an output is nan, training diverged: a
    nan has no class); no graph is recorded.

    >>> from tinygrad_edu.nn import MLP
    >>> loss, right = evaluate(MLP(2, [3], seed=0), [[0.0, 0.0], [5.0, -5.0]], [1, 2])
    >>> round(loss, 4), right
    (5.8001, 0.5)
    """
    if not np.size(y):
        raise ValueError(f"evaluate: no samples (X of shape {np.shape(X)}, y of shape "
                         f"{np.shape(y)}); a loss and an accuracy over no samples are "
                         "undefined")
    samples = rows_of(X, "evaluate", "X", numbers=True)
    logits = model_outputs(model, samples, "evaluate")
    outputs = np.shape(logits.data if isinstance(logits, Value) else logits)
    one_per_sample = len(outputs) == 1 and samples.ndim > 1 and outputs[0] == len(samples)
    if not outputs or outputs[-1] == 1 or one_per_sample:  # one output: the loss would read
        # the labels as one-hot rows, or its classes as 0..0, and its hint would mislead
        raise ValueError(f"evaluate: the model gave outputs of shape {outputs} for X of shape "
                         f"{samples.shape}; its loss is the cross-entropy of one logit per "
                         "class, (samples, classes) with 2 classes or more. For a model of one "
                         "output, accuracy(model, X, y) gives the fraction right")
    with no_grad():
        loss = float(cross_entropy(logits, y).data)
    scores = np.asarray(logits.data if isinstance(logits, Value) else logits)
    if np.isnan(scores).any():  # (argmax would call a row of nan class 0)
        return loss, math.nan
    return loss, float(np.mean(scores.argmax(axis=-1) == np.asarray(y)))


@dataclass
class History:
    """What `train_classifier` measured after each epoch: the mean cross-entropy and the
    accuracy on the whole training data and on the test data (empty lists without test data).
    """

    train_loss: list[float] = field(default_factory=list)
    train_accuracy: list[float] = field(default_factory=list)
    test_loss: list[float] = field(default_factory=list)
    test_accuracy: list[float] = field(default_factory=list)

    @property
    def epochs(self) -> int:
        """The number of epochs recorded."""
        return len(self.train_loss)

    @property
    def best_epoch(self) -> int:
        """The epoch (counted from 1) with the lowest test loss: where the test curve turns
        up, the model has begun to overfit. A nan loss (training diverged) is never the
        lowest."""
        if not self.test_loss:
            raise ValueError("History.best_epoch: no test loss was recorded (train_classifier "
                             "was given no test data)")
        best = lowest_loss_epoch(self.test_loss)
        if best is None:
            raise ValueError(f"History.best_epoch: every test loss is nan "
                             f"({len(self.test_loss)} epochs); training diverged from the start")
        return best


def train_classifier(model: Module, loader: DataLoader, optimizer: Optimizer, *, epochs: int,
                     test: tuple[Any, Any] | None = None,
                     bar: ProgressBar | None = None) -> History:
    """Train `model` (logits out, one per class) with cross-entropy on the mini-batches of
    `loader` (``(X, y)`` batches), for `epochs` passes, as a PyTorch loop does::

        for X_batch, y_batch in loader:
            loss = cross_entropy(model(X_batch), y_batch)
            optimizer.zero_grad(); loss.backward(); optimizer.step()

    After each epoch, the loss and accuracy on all of the loader's data and on `test` (an
    ``(X, y)`` pair, never trained on) go into the returned `History`. `bar` is advanced once
    a batch.

    >>> from tinygrad_edu.datasets import DataLoader, make_moons
    >>> from tinygrad_edu.nn import MLP
    >>> from tinygrad_edu.optim import Adam
    >>> X, y = make_moons(200, seed=0)
    >>> model = MLP(2, [16, 2], seed=0)
    >>> history = train_classifier(model, DataLoader((X[:150], y[:150]), 16, shuffle=True,
    ...                            seed=0), Adam(model.parameters(), lr=0.01), epochs=30,
    ...                            test=(X[150:], y[150:]))
    >>> history.epochs, history.train_accuracy[-1] > 0.95, history.test_accuracy[-1] > 0.95
    (30, True, True)
    """
    epochs = positive_int(epochs, "train_classifier: epochs")
    if not isinstance(loader, DataLoader) or loader.single or len(loader.arrays) != 2:
        raise ValueError(f"train_classifier: loader must be a DataLoader of (X, y) batches; "
                         f"got {loader!r}")
    for name in ("zero_grad", "step"):
        if not callable(getattr(optimizer, name, None)):
            raise ValueError(f"train_classifier: optimizer must be an optimizer (with step() "
                             f"and zero_grad()), e.g. Adam(model.parameters()); got "
                             f"{type(optimizer).__name__}")
    trained = {id(p) for p in getattr(optimizer, "params", ())}
    if trained and not trained & {id(p) for p in model.parameters()}:
        raise ValueError("train_classifier: none of the optimizer's parameters is one of the "
                         "model's, so training would change nothing; make it with "
                         "model.parameters() of this model")
    if test is not None:
        if not isinstance(test, tuple | list) or len(test) != 2:
            raise ValueError(f"train_classifier: test must be an (X, y) pair; got "
                             f"{type(test).__name__}"
                             + (f" of {len(test)}" if isinstance(test, tuple | list) else ""))
        labels_shape = np.shape(test[1])
        if len(labels_shape) != 1 or labels_shape[0] == 0 or \
                np.shape(test[0])[:1] != labels_shape:
            raise ValueError(f"train_classifier: test needs X with one row per label of y, a "
                             f"1-D array of at least one label; got X of shape "
                             f"{np.shape(test[0])} and y of shape {np.shape(test[1])}")
        try:  # (once before training: a test pair the model cannot take is refused before
            evaluate(model, *test)  # an epoch has changed the model)
        except (TypeError, ValueError) as error:
            kind = ValueError if isinstance(error, ValueError) else TypeError
            raise kind(f"train_classifier: test: {error}") from error
    X_train, y_train = loader.arrays
    history = History()
    for _ in range(epochs):
        for X_batch, y_batch in loader:
            loss = cross_entropy(model(X_batch), y_batch)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            if bar is not None:
                bar.update(1)
        loss_value, right = evaluate(model, X_train, y_train)
        history.train_loss.append(loss_value)
        history.train_accuracy.append(right)
        if test is not None:
            loss_value, right = evaluate(model, *test)
            history.test_loss.append(loss_value)
            history.test_accuracy.append(right)
    return history


MAX_CLASSES = 10_000
"""The most classes `confusion_matrix` counts: its matrix holds MAX_CLASSES² counts (800 MB)."""


def confusion_matrix(y_true: Any, y_pred: Any, num_classes: int | None = None) -> Labels:
    """Counts of (true class, predicted class) pairs: entry [i, j] is the number of samples of
    class i predicted as j (rows true, columns predicted, as scikit-learn's), so the diagonal
    holds the right answers. `num_classes` defaults to the largest label + 1.

    The labels (shape (n,), or a column (n, 1)) are class indices 0, 1, 2, ..., as a model's
    outputs number them: row i is class i, present or not (scikit-learn's has a row per
    distinct label instead, so labels 0 and 2 give it 2 rows and us 3). Other labels
    (strings, ±1, 0.5) are refused (`data.class_indices` checks them), as are
    more than `MAX_CLASSES` classes (labels 0 and 10**6 would make a matrix of 10**12 counts):
    number such labels first: ``names, codes = np.unique(np.concatenate([y_true, y_pred]),
    return_inverse=True)``, then ``np.split(codes, 2)``.

    >>> confusion_matrix([0, 1, 2, 2], [0, 2, 2, 2]).tolist()
    [[1, 0, 0], [0, 0, 1], [0, 0, 2]]
    """
    true = class_indices(y_true, "confusion_matrix", "y_true", renumber=_RENUMBER)
    pred = class_indices(y_pred, "confusion_matrix", "y_pred", renumber=_RENUMBER)
    if len(true) != len(pred):
        raise ValueError(f"confusion_matrix: y_true and y_pred must be 1-D arrays (or columns) "
                         f"of the same length; got shapes {np.shape(y_true)} and "
                         f"{np.shape(y_pred)}")
    largest = int(max(true.max(initial=-1), pred.max(initial=-1))) + 1
    if num_classes is None and largest > MAX_CLASSES:
        name = "y_true" if int(true.max(initial=-1)) + 1 == largest else "y_pred"
        raise ValueError(f"confusion_matrix: {name} holds label {largest - 1}, so the matrix "
                         f"would have {largest} rows and columns (one per class 0..{largest - 1})"
                         f" for {plural(len(true), 'sample')}; at most {MAX_CLASSES} classes are "
                         f"counted{_RENUMBER}")
    classes = largest if num_classes is None else positive_int(
        num_classes, "confusion_matrix: num_classes")
    if classes > MAX_CLASSES:
        raise ValueError(f"confusion_matrix: num_classes is {classes}; at most {MAX_CLASSES} "
                         f"classes are counted (a {MAX_CLASSES} x {MAX_CLASSES} matrix)")
    if largest > classes:
        raise ValueError(f"confusion_matrix: label {largest - 1} is outside the {classes} "
                         f"classes 0..{classes - 1}")
    counts = np.zeros((classes, classes), dtype=np.int64)
    np.add.at(counts, (true, pred), 1)
    return counts
