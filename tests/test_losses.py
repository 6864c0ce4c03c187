"""tinygrad_edu.losses: values, gradients against finite differences, stability."""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable
from typing import Any, cast

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from tinygrad_edu import Value, gradients, kernels
from tinygrad_edu.data import Array
from tinygrad_edu.losses import (
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    cross_entropy,
    hinge_loss,
    huber_loss,
    l1_loss,
    mse_loss,
    nll_loss,
)


def central_difference(f: Callable[[np.ndarray], float], x: np.ndarray,
                       h: float = 1e-6) -> np.ndarray:
    """(f(x + h·eᵢ) − f(x − h·eᵢ)) / 2h for every element i."""
    grad = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        up, down = x.copy(), x.copy()
        up[idx] += h
        down[idx] -= h
        grad[idx] = (f(up) - f(down)) / (2 * h)
    return grad


def analytic_grad(loss: Callable[[Value], Value], x: np.ndarray) -> tuple[float, np.ndarray]:
    v = Value(x.copy())
    out = loss(v)
    out.backward()
    return out.item(), np.asarray(v.grad)


def check_against_finite_differences(loss: Callable[[Value], Value], x: np.ndarray) -> None:
    _, grad = analytic_grad(loss, x)
    numerical = central_difference(lambda a: loss(Value(a)).item(), x)
    np.testing.assert_allclose(grad, numerical, rtol=1e-5, atol=1e-7)


def sigmoid(z: np.ndarray) -> np.ndarray:
    return 0.5 * (1 + np.tanh(z / 2))


batch = st.integers(1, 6)
moderate = st.floats(-5, 5)


# --------------------------------------------------------------------------------------------
# mse_loss
# --------------------------------------------------------------------------------------------


def test_mse_value_and_gradient() -> None:
    pred = Value([1.0, 2.0, 4.0])
    loss = mse_loss(pred, [1.0, 4.0, 3.0])
    assert loss.data == pytest.approx((0 + 4 + 1) / 3)
    loss.backward()
    np.testing.assert_allclose(pred.grad, 2 * np.array([0.0, -2.0, 1.0]) / 3)


@given(data=st.data(), n=batch)
def test_mse_matches_finite_differences(data: st.DataObject, n: int) -> None:
    x = data.draw(hnp.arrays(np.float64, n, elements=moderate))
    target = data.draw(hnp.arrays(np.float64, n, elements=moderate))
    check_against_finite_differences(lambda v: mse_loss(v, target), x)


def test_mse_of_scalars_and_of_a_one_output_batch() -> None:
    assert mse_loss(Value(3.0), 1.0).data == 4.0
    # a one-output model gives (batch, 1); the labels are (batch,): matched, not broadcast
    pred = Value([[1.0], [2.0]])
    assert mse_loss(pred, [1.0, 0.0]).data == pytest.approx(2.0)
    assert mse_loss(Value([1.0, 2.0]), [[1.0], [0.0]]).data == pytest.approx(2.0)


def test_mse_refuses_shapes_that_would_silently_broadcast() -> None:
    with pytest.raises(ValueError, match=r"prediction has shape \(3,\) but the target .*\(2,\)"):
        mse_loss(Value([1.0, 2.0, 3.0]), [1.0, 2.0])
    with pytest.raises(ValueError, match=r"\(2, 2\) but the target has shape \(2,\)"):
        mse_loss(Value(np.ones((2, 2))), [1.0, 2.0])


def test_mse_target_may_be_a_value() -> None:
    pred, target = Value([1.0, 2.0]), Value([0.0, 0.0])
    mse_loss(pred, target).backward()
    np.testing.assert_allclose(target.grad, -pred.grad)


# --------------------------------------------------------------------------------------------
# binary_cross_entropy_with_logits
# --------------------------------------------------------------------------------------------


@given(data=st.data(), n=batch)
def test_bce_matches_the_definition_and_finite_differences(data: st.DataObject, n: int) -> None:
    z = data.draw(hnp.arrays(np.float64, n, elements=moderate))
    y = data.draw(hnp.arrays(np.float64, n, elements=st.sampled_from([0.0, 1.0]) | st.floats(0, 1)))
    p = sigmoid(z)
    naive = -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))
    value, grad = analytic_grad(lambda v: binary_cross_entropy_with_logits(v, y), z)
    assert value == pytest.approx(naive, rel=1e-9, abs=1e-12)
    np.testing.assert_allclose(grad, (p - y) / n, rtol=1e-9, atol=1e-15)
    check_against_finite_differences(lambda v: binary_cross_entropy_with_logits(v, y), z)


def test_bce_is_exact_for_logits_of_plus_minus_1e4() -> None:
    z = np.array([1e4, -1e4, 1e4, -1e4])
    y = np.array([1.0, 0.0, 0.0, 1.0])
    value, grad = analytic_grad(lambda v: binary_cross_entropy_with_logits(v, y), z)
    assert value == pytest.approx((0 + 0 + 1e4 + 1e4) / 4, rel=1e-15)
    np.testing.assert_array_equal(grad, np.array([0.0, 0.0, 1.0, -1.0]) / 4)
    # confident and right: the loss is tiny but not rounded to a wrong value
    small = binary_cross_entropy_with_logits(Value([30.0]), [1.0]).data
    assert small == pytest.approx(np.exp(-30.0), rel=1e-9)


def test_bce_accepts_a_one_output_batch_and_scalars() -> None:
    logits = Value([[0.0], [0.0]])
    assert binary_cross_entropy_with_logits(logits, [0, 1]).data == pytest.approx(np.log(2))
    assert binary_cross_entropy_with_logits(Value(0.0), 1).data == pytest.approx(np.log(2))


@pytest.mark.parametrize("bad", [[2.0, 0.0], [-1.0, 1.0], [np.nan, 0.0]])
def test_bce_refuses_targets_outside_0_1(bad: list[float]) -> None:
    with pytest.raises(ValueError, match=r"targets must lie in \[0, 1\].*got (2|-1|nan)"):
        binary_cross_entropy_with_logits(Value([0.0, 0.0]), bad)


# --------------------------------------------------------------------------------------------
# hinge_loss
# --------------------------------------------------------------------------------------------


def test_hinge_is_micrograds_max_margin_loss() -> None:
    scores = Value([2.0, 0.5, -0.5, 0.5])
    y = [1, 1, 1, -1]
    loss = hinge_loss(scores, y)
    assert loss.data == pytest.approx((0 + 0.5 + 1.5 + 1.5) / 4)
    loss.backward()
    np.testing.assert_allclose(scores.grad, np.array([0.0, -1.0, -1.0, 1.0]) / 4)


def test_hinge_at_the_margin_uses_relus_zero_slope() -> None:
    scores = Value([1.0, -1.0])
    loss = hinge_loss(scores, [1, -1])
    loss.backward()
    assert loss.data == 0.0
    np.testing.assert_array_equal(scores.grad, [0.0, 0.0])


@given(data=st.data(), n=batch)
def test_hinge_matches_finite_differences_away_from_the_kink(data: st.DataObject, n: int) -> None:
    y = data.draw(hnp.arrays(np.float64, n, elements=st.sampled_from([-1.0, 1.0])))
    margin = data.draw(hnp.arrays(np.float64, n, elements=st.floats(-3, 3).filter(
        lambda m: abs(m - 1) > 1e-3)))
    scores = margin * y  # y·score = margin, kept away from 1
    check_against_finite_differences(lambda v: hinge_loss(v, y), scores)


def test_hinge_is_stable_for_huge_scores() -> None:
    loss = hinge_loss(Value([1e4, -1e4]), [1, 1])
    assert loss.data == pytest.approx((0 + 1e4 + 1) / 2)


def test_hinge_refuses_0_1_labels_and_says_how_to_convert() -> None:
    with pytest.raises(ValueError, match=r"targets must be -1 or \+1; got 0 .*2\*y - 1"):
        hinge_loss(Value([1.0, 2.0]), [0, 1])


# --------------------------------------------------------------------------------------------
# cross_entropy
# --------------------------------------------------------------------------------------------


def softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)  # type: ignore[no-any-return]


@st.composite
def logits_and_labels(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray]:
    n = draw(batch)
    classes = draw(st.integers(2, 5))
    z = draw(hnp.arrays(np.float64, (n, classes), elements=moderate))
    labels = draw(hnp.arrays(np.int64, n, elements=st.integers(0, classes - 1)))
    return z, labels


@given(case=logits_and_labels())
def test_cross_entropy_matches_the_definition_and_finite_differences(
    case: tuple[np.ndarray, np.ndarray]
) -> None:
    z, labels = case
    n = len(labels)
    p = softmax(z)
    naive = -np.mean(np.log(p[np.arange(n), labels]))
    value, grad = analytic_grad(lambda v: cross_entropy(v, labels), z)
    assert value == pytest.approx(naive, rel=1e-9, abs=1e-12)
    onehot = np.eye(z.shape[1])[labels]
    np.testing.assert_allclose(grad, (p - onehot) / n, rtol=1e-9, atol=1e-14)
    check_against_finite_differences(lambda v: cross_entropy(v, labels), z)


@given(case=logits_and_labels(), shift=st.floats(-100, 100))
def test_cross_entropy_ignores_a_constant_added_to_a_row(
    case: tuple[np.ndarray, np.ndarray], shift: float
) -> None:
    z, labels = case
    a = cross_entropy(Value(z), labels).data
    b = cross_entropy(Value(z + shift), labels).data
    assert a == pytest.approx(b, rel=1e-9, abs=1e-9)


def test_cross_entropy_is_stable_for_logits_of_plus_minus_1e4() -> None:
    z = np.array([[1e4, -1e4, 0.0], [1e4, -1e4, 0.0], [1e4, 1e4, -1e4]])
    labels = np.array([0, 1, 1])
    value, grad = analytic_grad(lambda v: cross_entropy(v, labels), z)
    assert value == pytest.approx((0.0 + 2e4 + np.log(2)) / 3, rel=1e-12)
    expected = np.array([[0.0, 0.0, 0.0], [1.0, -1.0, 0.0], [0.5, -0.5, 0.0]]) / 3
    np.testing.assert_allclose(grad, expected, atol=1e-15)


def test_cross_entropy_of_one_sample() -> None:
    z = Value([1.0, 2.0, 3.0])
    loss = cross_entropy(z, 2)
    assert loss.data == pytest.approx(-np.log(softmax(np.array([1.0, 2.0, 3.0]))[2]))
    loss.backward()
    np.testing.assert_allclose(z.grad, softmax(np.array([1.0, 2.0, 3.0])) - [0, 0, 1])


def test_cross_entropy_accepts_integral_floats_and_value_labels() -> None:
    z = np.array([[1.0, 2.0], [0.5, 0.1]])
    expected = cross_entropy(Value(z), np.array([1, 0])).data
    assert cross_entropy(Value(z), [1.0, 0.0]).data == expected
    assert cross_entropy(Value(z), Value([1, 0])).data == expected


@pytest.mark.parametrize(
    ("labels", "message"),
    [
        ([0, 3], r"label 3 is outside the 3 classes 0\.\.2"),
        ([-1, 0], r"label -1 is outside the 3 classes"),
        ([0.5, 1], "labels must be integer class indices"),
        ([0, 1, 2], r"logits of shape \(2, 3\) need labels of shape \(2,\); got shape \(3,\)"),
        (["a", "b"], "labels must be integer class indices"),
        ([0.0, float("nan")], "labels must be integer class indices"),
        # the label as given (it named the integer a cast made of it: -9223372036854775808)
        ([0.0, float("inf")], r"^cross_entropy: label inf is outside the 3 classes 0\.\.2$"),
        ([0.0, -float("inf")], r"^cross_entropy: label -inf is outside the 3 classes"),
        ([1e20, 0.0], r"^cross_entropy: label 100000000000000000000 is outside the 3 classes"),
    ],
)
def test_cross_entropy_refuses_bad_labels(labels: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        cross_entropy(Value(np.zeros((2, 3))), labels)


@pytest.mark.parametrize(
    ("labels", "message"),
    [
        ([0, 3], r"label 3 is outside the 3 classes 0\.\.2"),
        ([-1, 0], r"label -1 is outside the 3 classes"),
        ([0, -9223372036854775807], r"label -9223372036854775807 is outside the 3 classes"),
        ([0, 1, 2], r"logits of shape \(2, 3\) need labels of shape \(2,\); got shape \(3,\)"),
        ([[0, 1]], r"need labels of shape \(2,\); got shape \(1, 2\)"),
    ],
)
def test_cross_entropy_refuses_bad_label_arrays(labels: list[Any], message: str) -> None:
    # integer arrays take the lean path of `cross_entropy`, which must refuse the same labels
    with pytest.raises(ValueError, match=message):
        cross_entropy(Value(np.zeros((2, 3))), np.array(labels, dtype=np.intp))
    with pytest.raises(ValueError, match="a mean over zero samples is undefined"):
        cross_entropy(Value(np.zeros((0, 3))), np.zeros(0, dtype=np.intp))
    with pytest.raises(ValueError, match="reduction must be 'mean', 'sum' or 'none'"):
        cross_entropy(Value(np.zeros((2, 3))), np.array([0, 1]),
                      reduction=np.array(["sum"]))  # type: ignore[arg-type]


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cross_entropy_of_a_label_array_is_the_checked_path(reduction: str) -> None:
    # the lean path (an intp array) against the general one (the same labels as a list): the
    # same node, the same numbers, and labels of its own (editing the caller's changes nothing)
    z = np.array([[1.0, 2.0, -1.0], [0.5, 0.1, 3.0], [0.0, 0.0, 0.0]])
    labels = np.array([2, 0, 1])
    fast_z, slow_z = Value(z), Value(z)
    fast = cross_entropy(fast_z, labels, reduction=reduction)
    slow = cross_entropy(slow_z, labels.tolist(), reduction=reduction)
    assert fast.op is slow.op and fast.params.keys() == slow.params.keys()
    assert np.array_equal(fast.params.get("labels", 0), slow.params.get("labels", 0))
    labels[:] = 0
    seed = np.ones(3) if reduction == "none" else None
    fast.backward(seed)
    slow.backward(seed)
    assert np.array_equal(fast.data, slow.data)
    assert np.array_equal(fast_z.grad, slow_z.grad)


def test_cross_entropy_refuses_logits_of_the_wrong_rank() -> None:
    with pytest.raises(ValueError, match=r"\(classes,\) or \(batch, classes\); got shape \(\)"):
        cross_entropy(Value(1.0), 0)


# --------------------------------------------------------------------------------------------
# all losses
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("loss", "target"),
    [
        (mse_loss, [1.0, 0.0, 1.0, 0.0]),
        (binary_cross_entropy_with_logits, [1, 0, 1, 0]),
        (hinge_loss, [1, -1, 1, -1]),
    ],
)
def test_losses_are_means_over_the_batch(loss: Callable[[Any, Any], Value],
                                         target: list[float]) -> None:
    scores = np.array([0.3, -0.2, 1.5, 0.1])
    whole = loss(Value(scores), target).data
    halves = [cast(float, loss(Value(scores[i:i + 2]), target[i:i + 2]).data) for i in (0, 2)]
    assert whole == pytest.approx(np.mean(halves))
    doubled = loss(Value(np.tile(scores, 2)), target * 2).data
    assert doubled == pytest.approx(whole)


# --------------------------------------------------------------------------------------------
# reduction=, and the new losses (issue #14, part 3b)
# --------------------------------------------------------------------------------------------

ELEMENTWISE_LOSSES: dict[str, tuple[Callable[..., Value], Callable[[Any], Any]]] = {
    # name: (loss, how to draw a valid target from a float array in [-1, 1])
    "mse_loss": (mse_loss, lambda t: t * 3.0),
    "l1_loss": (l1_loss, lambda t: t * 3.0),
    "huber_loss": (huber_loss, lambda t: t * 3.0),
    "binary_cross_entropy": (binary_cross_entropy, lambda t: (t + 1.0) / 2.0),
    "binary_cross_entropy_with_logits": (binary_cross_entropy_with_logits,
                                         lambda t: (t + 1.0) / 2.0),
    "hinge_loss": (hinge_loss, lambda t: np.where(t >= 0, 1.0, -1.0)),
}


@pytest.mark.parametrize("name", sorted(ELEMENTWISE_LOSSES))
def test_reduction_none_sum_mean(name: str) -> None:
    loss, target_of = ELEMENTWISE_LOSSES[name]
    pred = np.array([0.2, 0.9, 0.5, 0.05]) if name == "binary_cross_entropy" else np.array(
        [0.3, -2.0, 1.5, 0.1])
    target = target_of(np.array([0.5, -1.0, 0.25, 1.0]))
    each = loss(Value(pred), target, reduction="none")
    assert each.shape == (4,)
    assert loss(Value(pred), target, reduction="sum").data == pytest.approx(
        cast(Array, each.data).sum())
    assert loss(Value(pred), target).data == pytest.approx(cast(Array, each.data).mean())
    assert loss(Value(pred), target, reduction="mean").data == pytest.approx(
        cast(Array, each.data).mean())
    assert loss(Value(pred.reshape(4, 1)), target, reduction="none").shape == (4,)


@pytest.mark.parametrize("name", [*sorted(ELEMENTWISE_LOSSES), "nll_loss", "cross_entropy"])
def test_a_sum_over_zero_samples_is_0_and_none_gives_no_losses(name: str) -> None:
    """Only a mean over zero samples is undefined (refused: tests/test_edges.py); as in
    PyTorch, their sum is 0 and reduction="none" gives an empty array of losses."""
    if name in ELEMENTWISE_LOSSES:
        loss, empty, labels = ELEMENTWISE_LOSSES[name][0], np.zeros(0), np.zeros(0)
    else:
        loss = {"nll_loss": nll_loss, "cross_entropy": cross_entropy}[name]
        empty, labels = np.zeros((0, 3)), np.zeros(0, dtype=np.intp)
    for targets in (labels, labels.tolist()):  # (an array and a list take two paths)
        scores = Value(empty)
        total = loss(scores, targets, reduction="sum")
        assert total.shape == () and total.data == 0.0
        total.backward()
        assert scores.grad.shape == empty.shape
        assert loss(Value(empty), targets, reduction="none").shape == (0,)


@pytest.mark.parametrize("name", [*sorted(ELEMENTWISE_LOSSES), "nll_loss", "cross_entropy"])
@pytest.mark.parametrize("bad", ["avg", "Mean", None, 1])
def test_a_bad_reduction_is_refused_by_name(name: str, bad: Any) -> None:
    loss = ELEMENTWISE_LOSSES[name][0] if name in ELEMENTWISE_LOSSES else {
        "nll_loss": nll_loss, "cross_entropy": cross_entropy}[name]
    with pytest.raises(ValueError, match=rf"{name}: reduction must be 'mean', 'sum' or 'none'; "
                                         rf"got {re.escape(repr(bad))}"):
        loss(Value([0.5, 0.5]), [1, 0], reduction=bad)


@pytest.mark.parametrize("name", sorted(ELEMENTWISE_LOSSES))
def test_shape_mismatch_is_refused(name: str) -> None:
    with pytest.raises(ValueError, match=rf"{name}: the prediction has shape \(3,\) but the "
                                         r"target has shape \(2,\)"):
        ELEMENTWISE_LOSSES[name][0](Value([0.5, 0.5, 0.5]), [1.0, 1.0])


@pytest.mark.parametrize(("probs", "target", "message"), [
    ([1.5, 0.5], [1.0, 0.0], r"the probabilities must lie in \[0, 1\] .*logits.*; got 1.5"),
    ([-0.1, 0.5], [1.0, 0.0], r"the probabilities must lie .*; got -0.1"),
    ([np.nan, 0.5], [1.0, 0.0], r"the probabilities must lie .*; got nan"),
    ([0.5, 0.5], [1.0, 2.0], r"the targets must lie in \[0, 1\]; got 2"),
])
def test_binary_cross_entropy_refuses_values_outside_0_1(probs: Any, target: Any,
                                                         message: str) -> None:
    with pytest.raises(ValueError, match="binary_cross_entropy: " + message):
        binary_cross_entropy(Value(probs), target)


def test_binary_cross_entropy_clamps_its_log_at_minus_100_as_pytorch() -> None:
    p = Value([0.0, 1.0, 0.0, 1.0])
    loss = binary_cross_entropy(p, [1.0, 0.0, 0.0, 1.0], reduction="none")
    assert cast(Array, loss.data).tolist() == [100.0, 100.0, 0.0, 0.0]
    loss.backward(np.ones(4))
    # (p − y)/max(p(1 − p), 1e-12), the floor a float32 1e-12, as PyTorch's
    assert p.grad.tolist() == [-1000000003995.8029, 1000000003995.8029, 0.0, 0.0]


def test_l1_at_zero_and_huber_at_delta_use_pytorchs_conventions() -> None:
    """l1's derivative at pred = target is 0 (abs's); huber's at |d| = δ is δ·sign(d) from
    both sides, its second derivative there 0 (the linear side), as PyTorch 2.13's."""
    x = Value([0.0, 1.0, -1.0])
    l1_loss(x, [0.0, 1.0, -1.0], reduction="sum").backward()
    assert x.grad.tolist() == [0.0, 0.0, 0.0]
    for delta in (1.0, 2.5):
        d = Value([delta, -delta, 0.0, 0.5 * delta])
        loss = huber_loss(d, [0.0, 0.0, 0.0, 0.0], reduction="sum", delta=delta)
        assert loss.data == pytest.approx(delta**2 / 2 * 2 + delta**2 / 8)
        (first,) = gradients(loss, [d], create_graph=True)
        assert first.data.tolist() == [delta, -delta, 0.0, 0.5 * delta]
        (second,) = gradients(first.sum(), [d])
        assert second.tolist() == [0.0, 0.0, 1.0, 1.0]
    far = Value([float("inf"), -1e300])
    huber_loss(far, [0.0, 0.0], reduction="sum").backward()
    assert far.grad.tolist() == [1.0, -1.0]  # (no inf·0 from the quadratic side)


def test_huber_refuses_a_bad_delta() -> None:
    for bad in (0.0, -1.0, "1", float("nan"), True, np.float32(-0.5)):
        with pytest.raises(ValueError, match="huber_loss: delta must be a positive number"):
            huber_loss(Value([1.0]), [0.0], delta=bad)  # type: ignore[arg-type]
    for good in (np.float32(0.5), np.int64(2)):  # (numpy numbers are numbers)
        assert huber_loss(Value([1.0]), [0.0], delta=good).data == huber_loss(  # type: ignore[arg-type]
            Value([1.0]), [0.0], delta=float(good)).data


def test_nll_loss_picks_minus_the_log_probability_of_each_label() -> None:
    log_probs = Value(np.log([[0.2, 0.8], [0.6, 0.4], [0.5, 0.5]]))
    loss = nll_loss(log_probs, [1, 0, 1], reduction="none")
    np.testing.assert_allclose(loss.data, -np.log([0.8, 0.6, 0.5]))
    mean = nll_loss(log_probs, [1, 0, 1])
    mean.backward()
    assert log_probs.grad.tolist() == [[0.0, -1 / 3], [-1 / 3, 0.0], [0.0, -1 / 3]]
    assert nll_loss(log_probs, [1, 0, 1], reduction="sum").data == pytest.approx(
        -np.log([0.8, 0.6, 0.5]).sum())
    assert nll_loss(Value([-1.0, -2.0]), 1).data == 2.0  # one sample: (classes,), one label


@pytest.mark.parametrize(("labels", "message"), [
    ([0, 2], r"nll_loss: label 2 is outside the 2 classes 0\.\.1"),
    ([0, -1], r"nll_loss: label -1 is outside"),
    ([0.5, 1], "nll_loss: labels must be integer class indices"),
    ([0], r"nll_loss: log_probs of shape \(2, 2\) need labels of shape \(2,\); got shape \(1,\)"),
])
def test_nll_loss_refuses_bad_labels(labels: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        nll_loss(Value(np.zeros((2, 2))), labels)


def test_cross_entropy_is_log_softmax_then_nll() -> None:
    z = Value([[1.0, -2.0, 0.5], [0.0, 0.0, 3.0]])
    a = cross_entropy(z, [2, 0], reduction="none")
    b = nll_loss(z.log_softmax(-1), [2, 0], reduction="none")
    assert cast(Array, a.data).tolist() == cast(Array, b.data).tolist()
    assert cross_entropy(z, [2, 0], reduction="sum").data == pytest.approx(
        cast(Array, a.data).sum())


# ---- against PyTorch (float64): values and gradients, every reduction, extremes included

REDUCTION = st.sampled_from(["mean", "sum", "none"])


def torch_loss(name: str) -> Callable[..., Any]:
    torch = importlib.import_module("torch")
    functional = torch.nn.functional
    if name == "hinge_loss":  # micrograd's, not in torch: relu(1 − y·s), reduced
        def hinge(s: Any, y: Any, reduction: str) -> Any:
            each = torch.relu(1.0 - y * s)
            return {"mean": each.mean, "sum": each.sum}.get(reduction, lambda: each)()
        return hinge
    return getattr(functional, name)  # type: ignore[no-any-return]


def extreme_floats(scale: float) -> st.SearchStrategy[float]:
    return st.one_of(st.floats(-scale, scale), st.sampled_from([0.0, 1e4, -1e4, 1e-300, 50.0]))


@st.composite
def loss_case(draw: st.DrawFn, name: str) -> tuple[Any, Any]:
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=2, max_side=4))
    if name == "binary_cross_entropy":
        probs = st.one_of(st.floats(0.0, 1.0), st.sampled_from([0.0, 1.0, 1e-300, 1e-13]))
        return draw(hnp.arrays(np.float64, shape, elements=probs)), draw(
            hnp.arrays(np.float64, shape, elements=st.floats(0.0, 1.0)))
    pred = draw(hnp.arrays(np.float64, shape, elements=extreme_floats(5.0)))
    if name == "hinge_loss":
        return pred, draw(hnp.arrays(np.float64, shape, elements=st.sampled_from([-1.0, 1.0])))
    if name == "binary_cross_entropy_with_logits":
        return pred, draw(hnp.arrays(np.float64, shape, elements=st.floats(0.0, 1.0)))
    return pred, draw(hnp.arrays(np.float64, shape, elements=extreme_floats(5.0)))


def compare_with_torch(ours: Value, grad: Any, theirs: Any, their_grad: Any,
                       scale: float = 1.0) -> None:
    """`scale`: the largest finite |input|; PyTorch's logits losses cancel terms of that size
    ((1 − y)·z + max(−z, 0) at z = −1e4, y = 1e-12 is 1e-8 ± 1e-12), ours do not."""
    np.testing.assert_allclose(ours.data, theirs.detach().numpy(), rtol=1e-10,
                               atol=1e-12 * max(scale, 1.0))
    np.testing.assert_allclose(grad, their_grad.numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name", sorted(ELEMENTWISE_LOSSES))
@given(data=st.data(), reduction=REDUCTION)
def test_elementwise_losses_match_pytorch(name: str, data: st.DataObject, reduction: str) -> None:
    torch = importlib.import_module("torch")
    f = torch_loss(name)
    pred, target = data.draw(loss_case(name), label="pred, target")
    kwargs: dict[str, Any] = {"reduction": reduction}
    if name == "huber_loss":
        kwargs["delta"] = data.draw(st.sampled_from([1.0, 0.5, 3.0]), label="delta")
    p = Value(pred)
    ours = ELEMENTWISE_LOSSES[name][0](p, target, **kwargs)
    upstream = data.draw(hnp.arrays(np.float64, ours.shape, elements=st.floats(-2.0, 2.0)),
                         label="upstream")
    (ours * upstream).sum().backward() if ours.shape else (ours * float(upstream)).backward()
    tp = torch.tensor(pred, requires_grad=True)
    theirs = f(tp, torch.tensor(target), **kwargs)
    theirs.backward(torch.tensor(upstream))
    finite = np.abs(pred[np.isfinite(pred)])
    compare_with_torch(ours, p.grad, theirs, tp.grad, float(np.max(finite, initial=1.0)))


@pytest.mark.parametrize("name", ["cross_entropy", "nll_loss"])
@given(data=st.data(), reduction=REDUCTION)
def test_class_losses_match_pytorch(name: str, data: st.DataObject, reduction: str) -> None:
    torch = importlib.import_module("torch")
    batch, classes = data.draw(st.integers(1, 5)), data.draw(st.integers(1, 4))
    one = data.draw(st.booleans(), label="one sample")
    shape = (classes,) if one else (batch, classes)
    z = data.draw(hnp.arrays(np.float64, shape, elements=extreme_floats(1e4)), label="scores")
    labels = np.array(data.draw(st.lists(st.integers(0, classes - 1), min_size=1 if one else
                                         batch, max_size=1 if one else batch)))
    labels = labels[0] if one else labels
    v = Value(z)
    ours = {"cross_entropy": cross_entropy, "nll_loss": nll_loss}[name](v, labels,
                                                                        reduction=reduction)
    upstream = data.draw(hnp.arrays(np.float64, ours.shape, elements=st.floats(-2.0, 2.0)))
    (ours * upstream).sum().backward() if ours.shape else (ours * float(upstream)).backward()
    tz = torch.tensor(z, requires_grad=True)
    theirs = getattr(torch.nn.functional, name)(tz, torch.tensor(labels), reduction=reduction)
    theirs.backward(torch.tensor(upstream))
    compare_with_torch(ours, v.grad, theirs, tz.grad)


@pytest.mark.parametrize("name", ["softmax", "log_softmax", "logsumexp"])
@given(data=st.data())
def test_softmax_family_matches_pytorch(name: str, data: st.DataObject) -> None:
    torch = importlib.import_module("torch")
    shape = data.draw(hnp.array_shapes(min_dims=1, max_dims=3, max_side=4), label="shape")
    x = data.draw(hnp.arrays(np.float64, shape, elements=st.one_of(
        extreme_floats(1e4), st.just(-np.inf))), label="x")
    axis = data.draw(st.integers(-len(shape), len(shape) - 1), label="axis")
    v = Value(x)
    ours = v.logsumexp(axis) if name == "logsumexp" else getattr(v, name)(axis)
    upstream = data.draw(hnp.arrays(np.float64, ours.shape, elements=st.floats(-2.0, 2.0)))
    (ours * upstream).sum().backward() if ours.shape else (ours * float(upstream)).backward()
    tx = torch.tensor(x, requires_grad=True)
    theirs = getattr(torch, name)(tx, axis)
    theirs.backward(torch.tensor(upstream))
    np.testing.assert_allclose(ours.data, theirs.detach().numpy(), rtol=1e-11, atol=1e-300)
    np.testing.assert_allclose(v.grad, tx.grad.numpy(), rtol=1e-9, atol=1e-12)


@given(e=hnp.arrays(np.float64, hnp.array_shapes(min_dims=2, max_dims=2, min_side=0, max_side=10),
                   elements=st.one_of(st.floats(0.0, 1e300), st.floats(0.0, 1e-300),
                                      st.sampled_from([0.0, 1.0, 1e308, np.inf, np.nan]))))
def test_the_sum_of_exps_over_rows_is_numpys_reduction_to_the_bit(e: Any) -> None:
    """Along the rows of a matrix of a few columns the softmax family adds its exps column by
    column: the bits of np.add.reduce, at any number of columns (a wrong order shows up as a
    different rounding of terms of very different sizes)."""
    with np.errstate(all="ignore"):
        ours = kernels._sum_of_exps(e, (1,))
        numpys = np.add.reduce(e, axis=(1,), keepdims=True)
    assert ours.shape == numpys.shape and ours.tobytes() == numpys.tobytes()


@given(x=hnp.arrays(np.float64, hnp.array_shapes(min_dims=2, max_dims=2, min_side=0, max_side=14),
                   elements=st.one_of(st.floats(-50.0, 50.0), st.sampled_from(
                       [0.0, -0.0, np.inf, -np.inf, np.nan]))))
def test_the_softmax_family_over_rows_takes_the_rows_maximum(x: Any) -> None:
    """Along the rows of a matrix (a batch of logits) the maximum is taken, and the exps are
    added, column by column when the columns are few: the numbers of numpy's reductions, at
    any number of columns."""
    m = np.maximum.reduce(x, axis=1, keepdims=True, initial=-np.inf)
    with np.errstate(all="ignore"):
        shifted = x - m
        log_softmax = shifted - np.log(np.add.reduce(np.exp(shifted), axis=1, keepdims=True))
        softmax = np.exp(shifted) / np.add.reduce(np.exp(shifted), axis=1, keepdims=True)
        np.testing.assert_array_equal(Value(x).log_softmax(1).data, log_softmax)
        np.testing.assert_array_equal(Value(x).softmax(1).data, softmax)


@given(data=st.data())
def test_var_and_std_match_pytorch(data: st.DataObject) -> None:
    """Our ddof is PyTorch's correction (its default is 1, ours numpy's 0)."""
    torch = importlib.import_module("torch")
    shape = data.draw(hnp.array_shapes(min_dims=1, max_dims=3, max_side=4), label="shape")
    ramp = np.arange(np.prod(shape)).reshape(shape) * 0.37  # (no slice is nearly constant)
    x = data.draw(hnp.arrays(np.float64, shape, elements=st.floats(-10.0, 10.0))) + ramp
    axis = data.draw(st.integers(-len(shape), len(shape) - 1), label="axis")
    ddof = data.draw(st.integers(0, shape[axis] - 1), label="ddof")
    for method in ("var", "std"):
        v = Value(x)
        ours = getattr(v, method)(axis, ddof)
        ours.backward(np.ones(ours.shape))
        tx = torch.tensor(x, requires_grad=True)
        theirs = getattr(torch, method)(tx, axis, correction=ddof)
        theirs.backward(torch.ones_like(theirs))
        np.testing.assert_allclose(ours.data, theirs.detach().numpy(), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(v.grad, tx.grad.numpy(), rtol=1e-8, atol=1e-10)
