"""Rosenblatt's perceptron: the lecture's learning rule, Novikoff's bound, and XOR's failure."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from tinygrad_edu.datasets import logic_gate
from tinygrad_edu.perceptron import DecisionBoundary, Perceptron


def test_weights_are_bias_first_random_from_a_seed_or_zero() -> None:
    p = Perceptron(3, zeros=True)
    assert p.weights.shape == (4,) and np.all(p.weights == 0)
    np.random.seed(11)  # seed=None draws from numpy's global random state
    first = Perceptron(3).weights
    np.random.seed(11)
    assert np.array_equal(first, Perceptron(3).weights) and np.any(first != 0)
    a, b = Perceptron(3, seed=7), Perceptron(3, seed=7)
    assert np.array_equal(a.weights, b.weights)
    assert np.all(np.abs(a.weights) <= 1) and np.any(a.weights != 0)
    assert not np.array_equal(a.weights, Perceptron(3, seed=8).weights)


def test_prediction_is_the_step_of_w_dot_x_with_x0_equal_1() -> None:
    p = Perceptron(2, zeros=True)
    p.weights = [-1.0, 2.0, 0.5]
    X = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 2.0], [0.5, 0.0]])
    np.testing.assert_array_equal(p.net_input(X), [-1.0, 1.0, 0.0, 0.0])
    # step(z) = 1 only for z > 0: at exactly 0 the prediction is 0
    np.testing.assert_array_equal(p.predict(X), [0, 1, 0, 0])
    assert p.predict(X).dtype.kind == "i"
    assert p.predict([1.0, 0.0]) == 1 and isinstance(p.predict([1.0, 0.0]), int)
    assert p.net_input([1.0, 0.0]) == 1.0


def test_one_update_follows_the_rule_exactly() -> None:
    """ŷ = 0, y = 1: w ← w + lr·x; ŷ = 1, y = 0: w ← w − lr·x; a right answer changes nothing."""
    p = Perceptron(2, zeros=True)
    p.weights = [0.0, 0.0, 0.0]
    history = p.fit([[2.0, 3.0]], [1], lr=0.5, max_epochs=1)
    assert history.errors == [1]
    np.testing.assert_array_equal(p.weights, [0.5, 1.0, 1.5])
    history = p.fit([[1.0, 1.0]], [0], lr=0.5, max_epochs=1)
    np.testing.assert_array_equal(p.weights, [0.0, 0.5, 1.0])
    history = p.fit([[1.0, 1.0]], [1], lr=0.5, max_epochs=1)
    assert history.errors == [0] and history.converged
    np.testing.assert_array_equal(p.weights, [0.0, 0.5, 1.0])


def test_fit_goes_one_example_at_a_time_in_order() -> None:
    # the second example is judged with the weights the first one produced
    p = Perceptron(1, zeros=True)
    history = p.fit([[1.0], [1.0]], [1, 1], lr=1.0, max_epochs=1)
    assert history.errors == [1]  # after w = (1, 1) the second example is already right
    np.testing.assert_array_equal(p.weights, [1.0, 1.0])


def reference_fit(w: list[float], X: np.ndarray, y: np.ndarray, lr: float,
                  epochs: int) -> tuple[list[int], list[list[float]]]:
    """The lecture's rule written out plainly, to compare against."""
    errors, weights = [], []
    for _ in range(epochs):
        count = 0
        for xi, yi in zip(X, y, strict=True):
            x = [1.0, *xi]
            y_hat = 1 if sum(a * b for a, b in zip(w, x, strict=True)) > 0 else 0
            if y_hat == 0 and yi == 1:
                w = [a + lr * b for a, b in zip(w, x, strict=True)]
                count += 1
            elif y_hat == 1 and yi == 0:
                w = [a - lr * b for a, b in zip(w, x, strict=True)]
                count += 1
        errors.append(count)
        weights.append(list(w))
        if count == 0:
            break
    return errors, weights


@given(gate=st.sampled_from(["and", "or", "nand"]), seed=st.integers(0, 10_000),
       lr=st.sampled_from([0.1, 0.5, 1.0, 2.0]))
@settings(max_examples=20)
def test_history_matches_the_rule_written_out(gate: str, seed: int, lr: float) -> None:
    X, y = logic_gate(gate)
    p = Perceptron(2, seed=seed)
    start = p.weights.copy()
    history = p.fit(X, y, lr=lr, max_epochs=100)
    errors, weights = reference_fit(list(start), X, y, lr, len(history.errors))
    assert history.errors == errors
    np.testing.assert_allclose(np.array(history.weights), np.array(weights), rtol=0, atol=1e-12)
    np.testing.assert_array_equal(history.initial_weights, start)
    np.testing.assert_array_equal(p.weights, history.weights[-1])


@pytest.mark.parametrize("gate", ["and", "or", "nand", "not"])
@pytest.mark.parametrize("seed", [None, 0, 1, 2])
def test_converges_on_linearly_separable_gates(gate: str, seed: int | None) -> None:
    X, y = logic_gate(gate)
    p = Perceptron(X.shape[1], seed=seed)
    history = p.fit(X, y)
    assert history.converged and not history.cycled
    assert history.errors[-1] == 0 and all(e > 0 for e in history.errors[:-1])
    assert len(history.weights) == len(history.errors) == history.epochs
    np.testing.assert_array_equal(p.predict(X), y)


@pytest.mark.parametrize("seed", [None, 0, 1, 2, 3, 4, 5])
@pytest.mark.parametrize("lr", [1.0, 0.1])
def test_xor_never_converges_and_a_cycle_is_detected(seed: int | None, lr: float) -> None:
    X, y = logic_gate("xor")
    p = Perceptron(2, seed=seed)
    history = p.fit(X, y, lr=lr, max_epochs=1000)
    assert not history.converged
    assert history.cycled and history.epochs < 1000
    assert all(e > 0 for e in history.errors)
    # never more than 3 of the 4 right, whatever the weights along the way
    for w in [history.initial_weights, *history.weights]:
        p.weights = w
        assert int(np.sum(p.predict(X) == y)) <= 3


def test_xor_from_zero_weights_in_detail() -> None:
    X, y = logic_gate("xor")
    history = Perceptron(2, zeros=True).fit(X, y)
    assert (history.converged, history.cycled) == (False, True)
    final = history.weights[-1]
    assert any(np.array_equal(final, w) for w in [history.initial_weights, *history.weights[:-1]])


def test_stops_after_max_epochs_without_claiming_a_cycle() -> None:
    X, y = logic_gate("nand")
    history = Perceptron(2, zeros=True).fit(X, y, max_epochs=2)
    assert history.epochs == 2 and not history.converged and not history.cycled


@st.composite
def separable_data(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, float, float]:
    """Points labelled by a random hyperplane u (bias included), with a margin; returns
    X, y, R = max |(1, x)| and γ = min margin of the unit vector u."""
    nin = draw(st.integers(1, 4))
    n = draw(st.integers(1, 30))
    direction = draw(hnp.arrays(np.float64, nin + 1, elements=st.floats(-1, 1)))
    assume(np.linalg.norm(direction) > 0.1)
    u = direction / np.linalg.norm(direction)
    X = draw(hnp.arrays(np.float64, (n, nin), elements=st.floats(-2, 2)))
    rows = np.hstack([np.ones((n, 1)), X])
    margins = rows @ u
    keep = np.abs(margins) >= 0.05
    assume(keep.any())
    X, rows, margins = X[keep], rows[keep], margins[keep]
    y = (margins > 0).astype(int)
    R = float(np.max(np.linalg.norm(rows, axis=1)))
    gamma = float(np.min(np.abs(margins)))
    return X, y, R, gamma


@given(data=separable_data(), lr=st.sampled_from([1.0, 0.25, 3.0]))
@example(data=(np.array([[1.0, 1.0]]), np.array([1]), 1.7320508075688772, 1.7320508075688776),
         lr=1.0)  # (R < γ, rounded: see the bound)
def test_novikoff_bound_on_the_number_of_updates(
    data: tuple[np.ndarray, np.ndarray, float, float], lr: float
) -> None:
    """From zero weights, on data separable with margin γ within radius R (bias coordinate
    included), the perceptron makes at most (R/γ)² updates, then stops with no error."""
    X, y, R, gamma = data
    # (R/γ)² ≥ 1 exactly, but R and γ are rounded: one sample (1, 1) gives R = √3 rounded
    # down and γ = √3 rounded up, a bound of 1 − 4e-16 for the 1 update it takes
    bound = (R / gamma) ** 2 * (1.0 + 1e-9)
    p = Perceptron(X.shape[1], zeros=True)
    history = p.fit(X, y, lr=lr, max_epochs=math.floor(bound) + 2)
    assert history.converged
    assert history.updates <= bound
    np.testing.assert_array_equal(p.predict(X), y)


def test_fit_and_predict_score_a_sample_alike() -> None:
    """A tie: wᵀx of the middle rows is 0 summed left to right, 7e-17 as a fused multiply-add
    gives it (found by the property above). fit's last epoch and predict must agree on it:
    a sample's net input has the same bits alone as in a batch."""
    a = -1.8146448542541984
    X = np.array([[0, a, a, a], [a, a, a, a], [a, a, a, a], [a, a, a, a], [a, 0, a, a]])
    y = np.array([1, 1, 1, 1, 0])
    p = Perceptron(4, zeros=True)
    assert p.fit(X, y).converged
    np.testing.assert_array_equal(p.predict(X), y)
    assert [p.net_input(x) for x in X] == p.net_input(X).tolist()
    assert [p.predict(x) for x in X] == y.tolist()


def test_decision_boundary_is_the_line_w_dot_x_equal_zero() -> None:
    p = Perceptron(2, zeros=True)
    p.weights = [-1.5, 1.0, 1.0]
    boundary = p.decision_boundary()
    assert isinstance(boundary, DecisionBoundary)
    assert boundary.bias == -1.5 and boundary.normal.tolist() == [1.0, 1.0]
    xs = np.linspace(-2, 2, 5)
    points = np.stack([xs, boundary.x2(xs)], axis=1)
    np.testing.assert_allclose(p.net_input(points), 0.0, atol=1e-12)
    assert boundary.side([[2.0, 2.0]]).tolist() == [2.5]
    vertical = Perceptron(2, zeros=True)
    vertical.weights = [-1.0, 2.0, 0.0]
    with pytest.raises(ValueError, match=r"vertical .* x₁ = 0\.5"):
        vertical.decision_boundary().x2(0.0)
    with pytest.raises(ValueError, match="needs a boundary in 2 inputs"):
        Perceptron(3, zeros=True).decision_boundary().x2(0.0)


def test_a_decision_boundary_does_not_follow_later_edits_of_the_weights() -> None:
    """A DecisionBoundary is frozen: its normal is a copy, not a view of the weights."""
    p = Perceptron(2, zeros=True)
    p.weights = [-1.5, 1.0, 1.0]
    boundary = p.decision_boundary()
    p.weights[1:] = 5.0  # (the array `weights` hands out, edited in place)
    assert boundary.normal.tolist() == [1.0, 1.0]


def test_trained_boundary_separates_and() -> None:
    X, y = logic_gate("and")
    p = Perceptron(2, seed=0)
    p.fit(X, y)
    side = p.decision_boundary().side(X)
    np.testing.assert_array_equal(side > 0, y == 1)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda p: p.predict([1.0, 2.0, 3.0]), r"expects 2 input features .* shape \(3,\)"),
        (lambda p: p.fit([[1.0, 2.0]], [2]), "labels must be 0 or 1; got 2"),
        (lambda p: p.fit([[1.0, 2.0]], [1, 0]), "got 1 samples but 2 labels"),
        (lambda p: p.fit([[1.0, 2.0]], [1], lr=0.0), "lr must be positive"),
        (lambda p: p.fit([[1.0, 2.0]], [1], max_epochs=0), "max_epochs must be a positive"),
        (lambda p: setattr(p, "weights", [1.0, 2.0]), r"shape \(3,\) .*got shape \(2,\)"),
    ],
)
def test_bad_arguments_are_refused_clearly(call: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call(Perceptron(2, zeros=True))  # type: ignore[operator]


def test_repr_shows_the_weights() -> None:
    assert repr(Perceptron(2, zeros=True)) == "Perceptron(2, weights=[0. 0. 0.])"


def test_all_sixteen_two_input_gates_learnable_except_xor_and_xnor() -> None:
    """Of the 16 boolean functions of two inputs, exactly XOR and XNOR are not linearly
    separable (Minsky and Papert): the perceptron learns the other 14."""
    X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    learned = set()
    for table in itertools.product([0, 1], repeat=4):
        history = Perceptron(2, zeros=True).fit(X, np.array(table))
        if history.converged:
            learned.add(table)
        else:
            assert history.cycled
    assert len(learned) == 14
    assert (0, 1, 1, 0) not in learned and (1, 0, 0, 1) not in learned


@given(gate=st.sampled_from(["and", "or", "nand", "xor"]),
       lr=st.floats(1e-15, 1e8, allow_nan=False, allow_infinity=False))
@example(gate="and", lr=1e-10)  # (its epochs moved the weights by less than the tolerance)
@settings(max_examples=60, deadline=None)
def test_the_cycle_test_does_not_depend_on_the_scale_of_lr(gate: str, lr: float) -> None:
    X, y = logic_gate(gate)
    history = Perceptron(2, zeros=True).fit(X, y, lr=lr)
    if gate == "xor":
        assert history.cycled and not history.converged
    else:  # separable: never declared a cycle, whatever lr (from zero, lr only scales w)
        assert history.converged and not history.cycled


@given(gate=st.sampled_from(["and", "or", "nand", "xor"]), power=st.integers(-60, 60))
@settings(max_examples=40, deadline=None)
def test_from_zero_a_power_of_two_lr_only_scales_the_weights(gate: str, power: int) -> None:
    X, y = logic_gate(gate)
    unit = Perceptron(2, zeros=True).fit(X, y, lr=1.0)
    scaled = Perceptron(2, zeros=True).fit(X, y, lr=2.0 ** power)
    assert (scaled.errors, scaled.converged, scaled.cycled) == (
        unit.errors, unit.converged, unit.cycled)
    np.testing.assert_array_equal(np.array(scaled.weights), 2.0 ** power * np.array(unit.weights))


def test_fit_does_not_edit_the_weights_array_handed_out_before() -> None:
    """fit() works on a copy and puts it in place at the end: an array a learner took from
    `weights` before (to compare, or to plot the start) keeps the old weights."""
    p = Perceptron(2, zeros=True)
    before = p.weights
    p.fit(*logic_gate("and"))
    assert before.tolist() == [0.0, 0.0, 0.0] and p.weights.tolist() != [0.0, 0.0, 0.0]


def test_an_input_that_is_always_0_hides_no_cycle() -> None:
    """XOR with a third input, 0 in every sample: its weight never moves, so its tolerance is
    0, and an end-of-epoch state must count as the same there when it is equal (≤, not <).
    The input changes nothing: the epochs of plain XOR."""
    X, y = logic_gate("xor")
    history = Perceptron(3, zeros=True).fit(np.hstack([X, np.zeros((4, 1))]), y)
    assert history.cycled and not history.converged
    assert history.errors == Perceptron(2, zeros=True).fit(X, y).errors


def test_the_cycle_test_measures_each_input_at_its_own_scale() -> None:
    """One sample at x = 1e-12 labelled 1, one at 0 labelled 0: after the first epoch only the
    weight of x has moved, by 1e-12, which is no cycle; its tolerance comes from its own
    scale (one from the largest input, the bias's 1, would call it one). The second epoch
    makes no error."""
    history = Perceptron(1, zeros=True).fit([[1e-12], [0.0]], [1, 0])
    assert history.converged and not history.cycled and history.errors == [2, 0]


def test_a_tiny_lr_next_to_large_weights_claims_no_cycle() -> None:
    # w + lr·x rounds back to w here: the weights stay put, which is no proof of a cycle
    X, y = logic_gate("and")
    p = Perceptron(2, zeros=True)
    p.weights = [1.0, 1.0, 1.0]
    history = p.fit(X, y, lr=1e-20, max_epochs=5)
    assert (history.epochs, history.converged, history.cycled) == (5, False, False)
