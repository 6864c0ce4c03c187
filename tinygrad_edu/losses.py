"""Losses: how far a model's outputs are from the targets, as a scalar `Value` to backpropagate.

Each is a mean over the batch, computed so that it stays finite for extreme inputs (logits of
±1e4 included). A prediction of shape (batch, 1), the output of a one-output model, is compared
with targets of shape (batch,) as they are.

>>> from tinygrad_edu import Value
>>> from tinygrad_edu.losses import binary_cross_entropy_with_logits, mse_loss
>>> pred = Value([[0.5], [2.0]])
>>> loss = mse_loss(pred, [1.0, 2.0])
>>> loss.backward()
>>> loss.data, pred.grad.tolist()
(0.125, [[-0.5], [0.0]])
>>> round(binary_cross_entropy_with_logits([0.0, 0.0], [1, 0]).data, 6)
0.693147
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tinygrad_edu.data import as_data, data_of
from tinygrad_edu.engine import Value, constant

__all__ = ["binary_cross_entropy_with_logits", "cross_entropy", "hinge_loss", "mse_loss"]


def _value(x: Any, what: str) -> Value:
    return x if isinstance(x, Value) else constant(as_data(x, what))


def _align(pred: Value, target: Value, loss: str) -> tuple[Value, Value]:
    """Make prediction and target the same shape; a trailing axis of 1 on either side (the
    (batch, 1) output of a one-output model against (batch,) labels) is dropped."""
    ps, ts = pred.shape, target.shape
    if pred.size == 0 or target.size == 0:
        raise ValueError(f"{loss}: no samples (the prediction has shape {ps}, the target "
                         f"{ts}); a mean over zero samples is undefined")
    if ps == ts:
        return pred, target
    if ps == (*ts, 1):
        return pred.reshape(ts), target
    if ts == (*ps, 1):
        return pred, target.reshape(ps)
    raise ValueError(f"{loss}: the prediction has shape {ps} but the target has shape {ts}; "
                     "they must match")


def _mean(x: Value) -> Value:
    return x if x.shape == () else x.mean()


def mse_loss(pred: Any, target: Any) -> Value:
    """Mean squared error: mean((pred − target)²); d/dpred = 2(pred − target)/n.

    >>> mse_loss(Value([1.0, 2.0]), [1.0, 4.0]).data
    2.0
    """
    pred, target = _align(_value(pred, "mse_loss pred"), _value(target, "mse_loss target"),
                          "mse_loss")
    return _mean((pred - target) ** 2)


def binary_cross_entropy_with_logits(logits: Any, target: Any) -> Value:
    """−mean(y·log σ(z) + (1 − y)·log(1 − σ(z))) for logits z and targets y in [0, 1].

    Computed as mean(y·softplus(−z) + (1 − y)·softplus(z)): two non-negative terms, each a
    stable softplus, so logits of ±1e4 give exact values; d/dz = (σ(z) − y)/n.

    >>> round(binary_cross_entropy_with_logits(Value([0.0]), [1.0]).data, 6)
    0.693147
    >>> binary_cross_entropy_with_logits(Value([1e4, -1e4]), [1.0, 0.0]).data
    0.0
    """
    z = _value(logits, "binary_cross_entropy_with_logits logits")
    y = _value(target, "binary_cross_entropy_with_logits target")
    targets = np.asarray(data_of(y))
    if np.any((targets < 0.0) | (targets > 1.0)) or np.isnan(targets).any():
        bad = targets[~((targets >= 0.0) & (targets <= 1.0))].reshape(-1)[0]
        raise ValueError(f"binary_cross_entropy_with_logits: targets must lie in [0, 1] "
                         f"(class labels 0 and 1, or probabilities); got {bad:g}")
    z, y = _align(z, y, "binary_cross_entropy_with_logits")
    return _mean(y * (-z).softplus() + (1.0 - y) * z.softplus())


def hinge_loss(scores: Any, target: Any) -> Value:
    """micrograd's SVM max-margin loss: mean(relu(1 − y·score)) for targets y = ±1.

    >>> hinge_loss(Value([2.0, 0.0, -1.0]), [1, 1, 1]).data
    1.0
    """
    s = _value(scores, "hinge_loss scores")
    y = _value(target, "hinge_loss target")
    targets = np.asarray(data_of(y))
    bad = targets[(targets != 1.0) & (targets != -1.0)].reshape(-1)
    if bad.size:
        raise ValueError(f"hinge_loss: targets must be -1 or +1; got {bad[0]:g} "
                         "(turn 0/1 labels into ±1 with 2*y - 1)")
    s, y = _align(s, y, "hinge_loss")
    return _mean((1.0 - y * s).relu())


def cross_entropy(logits: Any, labels: Any) -> Value:
    """Softmax cross-entropy over the last axis with integer class labels:
    mean(logsumexp(z) − z_label), d/dz = (softmax(z) − onehot(label))/n.

    `logits` has shape (batch, classes) with `labels` of shape (batch,), or (classes,) with one
    label. The log-sum-exp subtracts the row maximum (a constant) first, so it never overflows.

    >>> round(cross_entropy(Value([[2.0, 0.0, 0.0]]), [0]).data, 6)
    0.239545
    """
    z = _value(logits, "cross_entropy logits")
    if z.ndim not in (1, 2):
        raise ValueError(f"cross_entropy: logits must have shape (classes,) or (batch, classes); "
                         f"got shape {z.shape}")
    classes = z.shape[-1]
    raw = data_of(labels)
    array = np.asarray(raw)
    if array.dtype.kind not in "iuf" or (array.dtype.kind == "f" and
                                        not np.all(array == np.round(array))):
        raise ValueError(f"cross_entropy: labels must be integer class indices; got {raw!r}")
    index = array.astype(np.intp)
    if z.size == 0:
        raise ValueError(f"cross_entropy: no samples or no classes (logits of shape {z.shape}); "
                         "a mean over zero samples is undefined")
    if index.shape != z.shape[:-1]:
        raise ValueError(f"cross_entropy: logits of shape {z.shape} need labels of shape "
                         f"{z.shape[:-1]}; got shape {index.shape}")
    outside = index[(index < 0) | (index >= classes)].reshape(-1)
    if outside.size:
        raise ValueError(f"cross_entropy: label {int(outside[0])} is outside the {classes} "
                         f"classes 0..{classes - 1}")
    # NOTE: the maximum is subtracted as a constant: logsumexp(z) = m + logsumexp(z − m) for
    # any m, so the gradient is unchanged and exp never sees a positive argument
    shifted: Value = z - np.max(data_of(z), axis=-1, keepdims=True)
    log_sum_exp: Value = shifted.exp().sum(axis=-1).log()
    if z.ndim == 1:
        return log_sum_exp - shifted[int(index)]
    picked: Value = shifted[np.arange(len(index)), index]
    return (log_sum_exp - picked).mean()
