"""tinygrad_edu.losses: values, gradients against finite differences, stability."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from tinygrad_edu import Value
from tinygrad_edu.losses import (
    binary_cross_entropy_with_logits,
    cross_entropy,
    hinge_loss,
    mse_loss,
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
    ],
)
def test_cross_entropy_refuses_bad_labels(labels: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        cross_entropy(Value(np.zeros((2, 3))), labels)


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
    halves = [loss(Value(scores[i:i + 2]), target[i:i + 2]).data for i in (0, 2)]
    assert whole == pytest.approx(np.mean(halves))
    doubled = loss(Value(np.tile(scores, 2)), target * 2).data
    assert doubled == pytest.approx(whole)
