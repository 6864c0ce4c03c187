"""Losses: how far a model's outputs are from the targets, as a `Value` to backpropagate.

Names, argument orders and semantics are those of ``torch.nn.functional``. Every loss takes
``reduction="mean"`` (the default: the mean over the elements, so over the batch),
``"sum"`` or ``"none"`` (one loss per element, or per sample for the class losses), keyword
only where PyTorch has other parameters before it. Each stays finite for extreme inputs
(logits of ±1e4 included). A prediction of shape (batch, 1), the output of a one-output model,
is compared with targets of shape (batch,) as they are (PyTorch would broadcast them to
(batch, batch)). `nll_loss` and `cross_entropy` take the classes on the last axis (PyTorch's
(batch, classes, d...) layout is refused, with the way to ours) and have no ``ignore_index``:
every label must be a class, and a negative one (PyTorch's -100 included) is refused.

Conventions at the kinks (the derivative used where there is none), as PyTorch's:

==============================  =====================================================
l1_loss at pred = target        0 (abs's convention)
huber_loss at |pred − target|   δ·sign(pred − target) from both sides (it is smooth to
= delta                         first order there); second derivative 0 (the linear side)
hinge_loss at the margin        0 (relu's convention)
==============================  =====================================================

>>> from tinygrad_edu import Value
>>> from tinygrad_edu.losses import binary_cross_entropy_with_logits, mse_loss
>>> pred = Value([[0.5], [2.0]])
>>> loss = mse_loss(pred, [1.0, 2.0])
>>> loss.backward()
>>> loss.data, pred.grad.tolist()
(0.125, [[-0.5], [0.0]])
>>> round(binary_cross_entropy_with_logits([0.0, 0.0], [1, 0]).data, 6)
0.693147
>>> mse_loss(Value([1.0, 2.0]), [1.0, 4.0], reduction="none").data.tolist()
[0.0, 4.0]
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from tinygrad_edu import engine, ops
from tinygrad_edu.arrays import where
from tinygrad_edu.data import as_data, data_of, describe, refuse_masked
from tinygrad_edu.engine import Value, constant
from tinygrad_edu.kernels import is_number

__all__ = ["binary_cross_entropy", "binary_cross_entropy_with_logits",
           "cross_entropy", "hinge_loss", "huber_loss", "l1_loss", "mse_loss", "nll_loss"]

REDUCTIONS = ("mean", "sum", "none")
"""What a loss does with its per-element losses: their mean, their sum, or nothing."""

_INTP, _UINTP = np.dtype(np.intp), np.dtype(np.uintp)  # (labels of the usual dtype: below)


def _value(x: Any, what: str) -> Value:
    return x if isinstance(x, Value) else constant(as_data(x, what))


def _check_reduction(reduction: Any, loss: str) -> str:
    if not isinstance(reduction, str) or reduction not in REDUCTIONS:
        raise ValueError(f"{loss}: reduction must be 'mean', 'sum' or 'none'; got {reduction!r}")
    return reduction


def _reduce(x: Value, reduction: str, loss: str) -> Value:
    """The mean, the sum, or all of the per-element losses `x`."""
    if reduction == "none":
        return x
    if reduction == "mean" and x.size == 0:
        raise ValueError(f"{loss}: no samples (the losses have shape {x.shape}); a mean over "
                         "zero samples is undefined")
    if x.shape == ():
        return x
    return x.sum() if reduction == "sum" else x.mean()


def _align(pred: Value, target: Value, loss: str) -> tuple[Value, Value]:
    """Make prediction and target the same shape; a trailing axis of 1 on either side (the
    (batch, 1) output of a one-output model against (batch,) labels) is dropped."""
    ps, ts = pred.shape, target.shape
    if ps == ts:
        return pred, target
    if ps == (*ts, 1):
        return pred.reshape(ts), target
    if ts == (*ps, 1):
        return pred, target.reshape(ps)
    raise ValueError(f"{loss}: the prediction has shape {ps} but the target has shape {ts}; "
                     "they must match")


def _pair(pred: Any, target: Any, loss: str, reduction: Any) -> tuple[Value, Value, str]:
    """The checked, aligned operands of an elementwise loss, and its reduction."""
    reduction = _check_reduction(reduction, loss)
    p, t = _align(_value(pred, f"{loss} pred"), _value(target, f"{loss} target"), loss)
    return p, t, reduction


def _within_0_1(x: Value, loss: str, what: str, hint: str) -> None:
    values = np.asarray(data_of(x))
    bad = values[~((values >= 0.0) & (values <= 1.0))].reshape(-1)  # (nan is bad too)
    if bad.size:
        raise ValueError(f"{loss}: {what} must lie in [0, 1]{hint}; got {bad[0]:g}")


# ---- regression


def mse_loss(pred: Any, target: Any, *, reduction: str = "mean") -> Value:
    """Squared error (pred − target)², reduced; d/dpred = 2(pred − target) (/n for the mean).

    >>> mse_loss(Value([1.0, 2.0]), [1.0, 4.0]).data
    2.0
    """
    p, t, reduction = _pair(pred, target, "mse_loss", reduction)
    return _reduce((p - t) ** 2, reduction, "mse_loss")


def l1_loss(pred: Any, target: Any, *, reduction: str = "mean") -> Value:
    """Absolute error |pred − target|, reduced; d/dpred = sign(pred − target).

    NOTE: at pred = target the derivative is taken to be 0 (abs's convention; PyTorch's too).

    >>> l1_loss(Value([1.0, 2.0]), [1.0, 4.0], reduction="sum").data
    2.0
    """
    p, t, reduction = _pair(pred, target, "l1_loss", reduction)
    return _reduce((p - t).abs(), reduction, "l1_loss")


def huber_loss(pred: Any, target: Any, reduction: str = "mean", delta: float = 1.0) -> Value:
    """Huber's loss of d = pred − target: ½d² where |d| < δ, else δ·(|d| − ½δ), reduced.

    Quadratic near the target, linear (robust to outliers) beyond δ;
    d/dpred = d where |d| < δ, else δ·sign(d). NOTE: at |d| = δ both sides give δ·sign(d);
    the second derivative there is the linear side's, 0 (as PyTorch's).

    >>> huber_loss(Value([0.5, 3.0]), [0.0, 0.0], reduction="none").data.tolist()
    [0.125, 2.5]
    """
    if not is_number(delta) or not delta > 0:
        raise ValueError(f"huber_loss: delta must be a positive number; got {delta!r}")
    p, t, reduction = _pair(pred, target, "huber_loss", reduction)
    d = p - t
    near = np.abs(np.asarray(data_of(d))) < delta  # (nan: the linear side, which keeps the nan)
    if type(data_of(d)) is float:
        near = bool(near)
    # each side sees 0 where it is not chosen, so no inf from the other side turns into nan
    quadratic = 0.5 * where(near, d, 0.0) ** 2
    linear = delta * (where(near, 0.0, d).abs() - 0.5 * delta)
    return _reduce(where(near, quadratic, linear), reduction, "huber_loss")


# ---- binary classification


def binary_cross_entropy(probs: Any, target: Any, *, reduction: str = "mean") -> Value:
    """−(y·log p + (1 − y)·log(1 − p)) for probabilities p and targets y in [0, 1], reduced.

    As PyTorch's: each log is clamped at −100, so p = 0 or 1 gives a finite loss (100 at
    worst), and d/dp = (p − y)/max(p(1 − p), 1e-12), so a sure wrong prediction still gets a
    (large, finite) gradient. For logits prefer `binary_cross_entropy_with_logits`, exact there.

    >>> binary_cross_entropy(Value([0.5, 0.0]), [1.0, 1.0], reduction="none").data.tolist()
    [0.6931471805599453, 100.0]
    """
    p, y, reduction = _pair(probs, target, "binary_cross_entropy", reduction)
    _within_0_1(p, "binary_cross_entropy", "the probabilities", " (use "
                "binary_cross_entropy_with_logits for scores that are not probabilities)")
    _within_0_1(y, "binary_cross_entropy", "the targets", "")
    return _reduce(engine.apply(ops.BINARY_CROSS_ENTROPY, p, y), reduction,
                   "binary_cross_entropy")


def binary_cross_entropy_with_logits(logits: Any, target: Any, *,
                                     reduction: str = "mean") -> Value:
    """−(y·log σ(z) + (1 − y)·log(1 − σ(z))) for logits z and targets y in [0, 1], reduced.

    Computed as y·softplus(−z) + (1 − y)·softplus(z): two non-negative terms, each a stable
    softplus, so logits of ±1e4 give exact values; d/dz = σ(z) − y (/n for the mean).

    >>> round(binary_cross_entropy_with_logits(Value([0.0]), [1.0]).data, 6)
    0.693147
    >>> binary_cross_entropy_with_logits(Value([1e4, -1e4]), [1.0, 0.0]).data
    0.0
    """
    loss = "binary_cross_entropy_with_logits"
    reduction = _check_reduction(reduction, loss)
    z = _value(logits, f"{loss} logits")
    y = _value(target, f"{loss} target")
    _within_0_1(y, loss, "targets", " (class labels 0 and 1, or probabilities)")
    z, y = _align(z, y, loss)
    return _reduce(y * (-z).softplus() + (1.0 - y) * z.softplus(), reduction, loss)


def hinge_loss(scores: Any, target: Any, *, reduction: str = "mean") -> Value:
    """micrograd's SVM max-margin loss: relu(1 − y·score) for targets y = ±1, reduced.

    >>> hinge_loss(Value([2.0, 0.0, -1.0]), [1, 1, 1]).data
    1.0
    """
    reduction = _check_reduction(reduction, "hinge_loss")
    s = _value(scores, "hinge_loss scores")
    y = _value(target, "hinge_loss target")
    targets = np.asarray(data_of(y))
    bad = targets[(targets != 1.0) & (targets != -1.0)].reshape(-1)
    if bad.size:
        raise ValueError(f"hinge_loss: targets must be -1 or +1; got {bad[0]:g} "
                         "(turn 0/1 labels into ±1 with 2*y - 1)")
    s, y = _align(s, y, "hinge_loss")
    return _reduce((1.0 - y * s).relu(), reduction, "hinge_loss")


# ---- classes


def nll_loss(log_probs: Any, labels: Any, *, reduction: str = "mean") -> Value:
    """The negative log-likelihood −log_probs[label] of integer class labels, reduced.

    `log_probs` has shape (batch, classes) with `labels` of shape (batch,), or (classes,)
    with one label; it is meant to hold log-probabilities (the output of `log_softmax`).
    d/dlog_probs = −1 at each sample's label (/batch for the mean), 0 elsewhere.

    >>> nll_loss(Value([[-0.5, -1.0], [-2.0, -0.1]]), [1, 0]).data
    1.5
    """
    return _class_loss("nll_loss", log_probs, labels, reduction, log_softmax_first=False)


def cross_entropy(logits: Any, labels: Any, *, reduction: str = "mean") -> Value:
    """Softmax cross-entropy over the last axis with integer class labels:
    nll_loss(log_softmax(z), labels) = logsumexp(z) − z_label, reduced;
    d/dz = softmax(z) − onehot(label) (/batch for the mean).

    `logits` has shape (batch, classes) with `labels` of shape (batch,), or (classes,) with one
    label. `log_softmax` subtracts the row maximum first, so it never overflows.

    >>> round(cross_entropy(Value([[2.0, 0.0, 0.0]]), [0]).data, 6)
    0.239545
    """
    if type(logits) is Value and type(labels) is np.ndarray and labels.dtype is _INTP:
        # the usual call (a batch of logits, an integer label array), checked in fewer steps:
        # labels of shape (batch,), copied with each one outside 0..classes − 1 made
        # `classes` (read as unsigned, a negative one is too large), which no row has: the
        # pick of the labels then raises, and the long way says why, as it does for
        # anything else
        z = logits._data
        if (type(z) is np.ndarray and z.ndim == 2 and labels.shape == z.shape[:1]
                and z.shape[0] > 0 and type(reduction) is str and reduction != "none"
                and reduction in REDUCTIONS):
            inside = np.minimum(labels.view(_UINTP), z.shape[1]).view(_INTP)
            try:
                return engine.apply(ops.CROSS_ENTROPY, logits, labels=inside,
                                    reduction=reduction)
            except IndexError:
                pass
    return _class_loss("cross_entropy", logits, labels, reduction, log_softmax_first=True)


def _class_loss(loss: str, scores: Any, labels: Any, reduction: Any, *,
                log_softmax_first: bool) -> Value:
    reduction = _check_reduction(reduction, loss)
    what = "logits" if log_softmax_first else "log_probs"
    z = _value(scores, f"{loss} {what}")
    if z.ndim not in (1, 2):
        hint = "" if z.ndim < 3 else (
            " (the classes are the last axis, not axis 1 as in PyTorch" + (
                f": pass {what}.transpose(0, 2, 1).reshape(-1, {z.shape[1]}) and the labels "
                "flattened, labels.reshape(-1)" if z.ndim == 3 else "") + ")")
        raise ValueError(f"{loss}: {what} must have shape (classes,) or (batch, classes); "
                         f"got shape {z.shape}{hint}")
    index = _labels(loss, what, z.shape, labels, reduction)
    if log_softmax_first and z.ndim == 2:  # the three steps below, fused into one primitive
        return z.apply("cross_entropy", labels=index, reduction=reduction)
    log_probs = z.log_softmax(-1) if log_softmax_first else z
    if z.ndim == 1:
        return -log_probs[int(index)]
    picked: Value = log_probs[np.arange(len(index)), index]
    if reduction == "none":
        return -picked
    total = picked.sum()
    return total * (-1.0 / len(index)) if reduction == "mean" else -total


def _labels(loss: str, what: str, shape: tuple[int, ...], labels: Any, reduction: str) -> Any:
    """The labels as an integer array, checked against scores of `shape`."""
    classes = shape[-1]
    array = _label_array(loss, labels)
    if classes == 0 or (reduction == "mean" and math.prod(shape) == 0):
        raise ValueError(f"{loss}: no samples or no classes ({what} of shape {shape}); "
                         "a mean over zero samples is undefined")
    if array.shape != shape[:-1]:
        hint = ("; labels are class indices, one per sample, not one-hot rows or "
                "probabilities: labels.argmax(axis=-1)" if array.shape == shape else
                "; one sample's scores take one label, a number: labels[0]"
                if len(shape) == 1 and array.shape == (1,) else
                "; a column: labels.reshape(-1)" if array.shape == (*shape[:-1], 1) else "")
        raise ValueError(f"{loss}: {what} of shape {shape} need labels of shape "
                         f"{shape[:-1]}; got shape {array.shape}{hint}")
    outside = array[(array < 0) | (array >= classes)].reshape(-1)  # (as given: inf, 1e20...)
    if outside.size:
        label = outside[0].item()
        shown = int(label) if math.isfinite(label) and abs(label) < 1e21 else label
        ignored = (" (there is no ignore_index: every label must be a class)"
                   if math.isfinite(label) and label < 0 else "")
        raise ValueError(f"{loss}: label {shown} is outside the {classes} classes "
                         f"0..{classes - 1}{ignored}")
    return array.astype(np.intp)


def _label_array(loss: str, labels: Any) -> Any:
    """The labels (a number, a list, an array or a Value) as a numeric array, or a clear error
    naming the first label that is not a whole number."""
    raw = data_of(labels)
    if isinstance(raw, np.ma.MaskedArray):  # (np.asarray keeps the numbers under the mask)
        refuse_masked(raw, f"{loss}: labels")
    try:
        array = np.asarray(raw)
    except (TypeError, ValueError):  # a ragged list: numpy's own message names no labels
        raise ValueError(f"{loss}: labels must be integer class indices in a flat list or "
                         f"array; got {describe(raw)}, which is ragged") from None
    if array.dtype.kind == "b":
        raise ValueError(f"{loss}: labels must be integer class indices, not booleans (give "
                         f"0 and 1: np.asarray(labels, dtype=int)); got {describe(raw)}")
    if array.dtype.kind not in "iuf":
        raise ValueError(f"{loss}: labels must be integer class indices; got {describe(raw)}")
    if array.dtype.kind == "f":
        whole = array == np.round(array)  # (False at nan)
        if not np.all(whole):
            position = tuple(int(i) for i in np.argwhere(~whole)[0])
            at = (f" at index {position[0] if len(position) == 1 else position}"
                  if position else "")
            raise ValueError(f"{loss}: labels must be integer class indices; got "
                             f"{array[~whole].reshape(-1)[0]:g}{at}")
    return array
