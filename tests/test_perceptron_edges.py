"""Rosenblatt's perceptron at its edges: what fit, predict and DecisionBoundary refuse, and the
claims (converged, cycled) they must never make wrongly."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from tinygrad_edu.datasets import logic_gate
from tinygrad_edu.perceptron import DecisionBoundary, Perceptron


@pytest.mark.parametrize("lr", [math.inf, "1", np.array([1.0, 2.0]), True, None])
def test_lr_must_be_a_positive_finite_number(lr: Any) -> None:
    # lr = inf trained to weights of inf and reported converged; a string or an array
    # failed inside a comparison
    with pytest.raises(ValueError, match=r"lr must be positive and finite .*got"):
        Perceptron(2, zeros=True).fit(*logic_gate("and"), lr=lr)


def test_weights_that_overflow_are_refused_not_reported_converged() -> None:
    p = Perceptron(2, zeros=True)
    X, y = logic_gate("and")
    with pytest.raises(ValueError, match=r"weights overflowed .* epoch 1 .*smaller lr"):
        p.fit(X * 1e300, y, lr=1e300)
    assert p.weights.tolist() == [0.0, 0.0, 0.0]  # left as they were


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_weights_must_be_finite(bad: float) -> None:
    p = Perceptron(2, zeros=True)
    with pytest.raises(ValueError, match="weights must be finite"):
        p.weights = [bad, 1.0, 1.0]
    p.weights[0] = bad  # edited in place: fit refuses to start (it ran 100 epochs of errors)
    with pytest.raises(ValueError, match="starting weights must be finite"):
        p.fit(*logic_gate("and"))


@pytest.mark.parametrize(("weights", "x"), [([0.0, 0.0, 0.0], [math.nan, 1.0]),
                                            ([0.0, 0.0, 1.0], [math.inf, 1.0]),
                                            ([0.0, 1.0, 1.0], [math.inf, -math.inf])])
def test_predict_refuses_a_nan_net_input(weights: list[float], x: list[float]) -> None:
    """nan > 0 is False: predict gave class 0 for a nan (or 0·inf, inf − inf) silently."""
    p = Perceptron(2, zeros=True)
    p.weights[:] = weights
    assert math.isnan(p.net_input(x))
    with pytest.raises(ValueError, match=r"wᵀx is nan for sample 0"):
        p.predict(x)
    with pytest.raises(ValueError, match=r"wᵀx is nan for sample 1"):
        p.predict([[1.0, 1.0], x])


def test_predict_at_an_infinite_net_input_is_its_sign() -> None:
    p = Perceptron(1, zeros=True)
    p.weights = [0.0, 1.0]
    assert p.predict([[math.inf], [-math.inf]]).tolist() == [1, 0]


@pytest.mark.parametrize("y", [np.array([[0, 0], [0, 1]]), np.array([[0, 0, 0, 1]])])
def test_labels_of_another_shape_are_refused(y: np.ndarray) -> None:
    """A column (n, 1) is one label per sample; a (2, 2) or (1, 4) array is not."""
    with pytest.raises(ValueError, match=r"got 4 samples but labels of shape"):
        Perceptron(2, zeros=True).fit(logic_gate("and")[0], y)
    assert Perceptron(2, zeros=True).fit(logic_gate("and")[0], [[0], [0], [0], [1]]).converged


def test_plus_minus_one_labels_get_a_hint() -> None:
    X, y = logic_gate("and")
    with pytest.raises(ValueError, match=r"0 or 1; got -1 \(for labels −1/\+1, pass"):
        Perceptron(2, zeros=True).fit(X, 2 * y - 1)


@pytest.mark.parametrize(("X", "y"), [([[1.0], [1.0 + 2.0**-40]], [1, 0]),
                                      ([[1.7e9], [1.7e9 + 1.0]], [1, 0])])
def test_separable_data_with_a_tiny_margin_is_not_called_a_cycle(X: list[list[float]],
                                                                  y: list[int]) -> None:
    """Both data sets are linearly separable (a threshold between the two points), so the
    weights never come back: the cycle test, with a tolerance of 1e-9 of each input's size,
    saw the end of epoch 1 as the start and said `cycled` (not separable) after one epoch."""
    history = Perceptron(1, zeros=True).fit(X, y, max_epochs=50)
    assert not history.cycled and not history.converged and history.epochs == 50


@given(a=st.floats(-1e6, 1e6), k=st.integers(1, 52), label=st.sampled_from([0, 1]))
@settings(max_examples=60, deadline=None)
def test_two_distinct_points_are_never_called_a_cycle(a: float, k: int, label: int) -> None:
    """Two different points on a line, labelled apart, are always linearly separable, however
    close they are: `cycled` (which claims they are not) must stay False."""
    b = a + max(abs(a), 1.0) * 2.0**-k
    assume(b != a)
    history = Perceptron(1, zeros=True).fit([[a], [b]], [label, 1 - label], max_epochs=20)
    assert not history.cycled


def test_xor_with_inputs_that_are_not_integers_still_cycles() -> None:
    X, y = logic_gate("xor")
    for scale, offset in [(0.1, 0.0), (3.0, 0.0), (1.0, 0.25)]:
        history = Perceptron(2, zeros=True).fit(X * scale + offset, y, max_epochs=1000)
        assert history.cycled and not history.converged, (scale, offset)


def test_side_has_the_sign_of_predict_at_a_tie() -> None:
    """wᵀx is 0 with a matrix product (bias added last) and 5.6e-17 summed left to right, as
    predict sums it: side() said 0 (the side predicted 0) where predict says 1."""
    p = Perceptron(4, zeros=True)
    p.weights = [0.3, 0.3, -1.0, 0.3, 0.3]
    x = [0.2, 0.6, -0.3, 1.1]
    boundary = p.decision_boundary()
    assert p.predict(x) == 1
    assert boundary.side(x) > 0 and boundary.side([x]).tolist() == [p.net_input(x)]


def test_side_refuses_the_wrong_number_of_inputs() -> None:
    with pytest.raises(ValueError, match=r"side expects 2 input features .*shape \(1, 3\)"):
        DecisionBoundary(1.0, np.array([1.0, 1.0])).side([[1.0, 2.0, 3.0]])


@pytest.mark.parametrize(("bias", "predicted"), [(1.0, 1), (0.0, 0), (-2.0, 0)])
def test_no_line_when_both_input_weights_are_zero(bias: float, predicted: int) -> None:
    """The message said 'vertical ... the line x₁ = nan'."""
    p = Perceptron(2, zeros=True)
    p.weights = [bias, 0.0, 0.0]
    with pytest.raises(ValueError, match=rf"no boundary line: .*predicted {predicted}") as info:
        p.decision_boundary().x2(0.0)
    assert "nan" not in str(info.value)
    assert p.predict([[5.0, -3.0]]).tolist() == [predicted]


def test_a_boundary_built_by_hand_from_a_list_works() -> None:
    boundary = DecisionBoundary(-1.5, [1.0, 1.0])  # type: ignore[arg-type]
    assert float(boundary.x2(0.5)) == 1.0 and boundary.normal.dtype == np.float64
