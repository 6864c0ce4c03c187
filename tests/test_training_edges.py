"""Edges of tinygrad_edu.training: labels that can never match a class, model outputs that
have no class, empty data, arguments that trained nothing or failed only after an epoch."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
import sklearn.metrics
from hypothesis import given, settings
from hypothesis import strategies as st

from tinygrad_edu import Value
from tinygrad_edu.datasets import DataLoader, logic_gate, make_moons
from tinygrad_edu.nn import MLP
from tinygrad_edu.optim import SGD, Adam
from tinygrad_edu.training import (
    History,
    accuracy,
    confusion_matrix,
    evaluate,
    predict,
    train_binary,
    train_classifier,
)

X3 = np.array([[0.0, 0.0], [5.0, -5.0], [1.0, 1.0]])


def test_the_accuracy_of_no_samples_is_an_error_not_nan() -> None:
    # (nan, with numpy's "RuntimeWarning: Mean of empty slice")
    with pytest.raises(ValueError, match=r"^accuracy: no samples \(X of shape \(0, 2\)\)"):
        accuracy(MLP(2, [3], seed=0), np.zeros((0, 2)), [])


@pytest.mark.parametrize(("nout", "labels", "message"), [
    (1, [1, -1, 1], r"got -1 at index 1 in \[1, -1, 1\] of int64; for labels ±1 \(as for "
                    r"hinge_loss\), pass y > 0"),  # (2/3, silently: every -1 counted wrong)
    (1, ["1", "0", "1"], r"got \['1', '0', '1'\] of <U1"),  # (0.0, silently)
    (1, [1.5, 0.0, 1.0], r"got 1.5 at index 0 in \[1.5, 0.0, 1.0\] of float64"),
    (1, [0, 2, 1], r"label 2 in y is not one of the classes 0..1 the model gives"),
    (3, [0, 3, 1], r"label 3 in y is not one of the classes 0..2 the model gives"),
])
def test_labels_that_are_no_class_of_the_model_are_refused(nout: int, labels: list[Any],
                                                           message: str) -> None:
    with pytest.raises(ValueError, match=f"^accuracy: .*{message}"):
        accuracy(MLP(2, [nout], seed=0), X3, labels)


@given(labels=st.lists(st.integers(0, 2), min_size=3, max_size=3),
       form=st.sampled_from(["list", "row", "column", "float", "uint8"]))
@settings(max_examples=30, deadline=None)
def test_accuracy_is_the_fraction_of_predicted_classes_equal_to_the_labels(
        labels: list[int], form: str) -> None:
    """A regression test: a column (n, 1) is n labels (never an (n, n) comparison)."""
    model = MLP(2, [3], seed=0)
    given_labels: Any = {"list": labels, "row": np.array([labels]),
                         "column": np.array(labels)[:, None],
                         "float": np.array(labels, dtype=np.float64),
                         "uint8": np.array(labels, dtype=np.uint8)}[form]
    expected = float(np.mean(predict(model, X3) == np.array(labels)))
    assert accuracy(model, X3, given_labels) == expected


@pytest.mark.parametrize("nout", [1, 3])
def test_a_nan_output_has_no_class(nout: int) -> None:
    # (argmax or "> threshold" made class 0 of it: a diverged model scored as if it guessed)
    model = MLP(2, [nout], seed=0)
    for p in model.parameters():
        p.data = p.data * np.nan
    for call in (lambda: predict(model, X3), lambda: accuracy(model, X3, [0, 1, 0])):
        with pytest.raises(ValueError, match=r"^predict: the model's output is nan for 3 of 3 "
                                             r"samples .*a nan has no class"):
            call()


@pytest.mark.parametrize(("output", "shape"), [
    (np.zeros((2, 3)), r"\(2, 3\)"),  # two rows for three samples: two classes came back
    (np.zeros(2), r"\(2,\)"),
    (np.zeros((3, 2, 2)), r"\(3, 2, 2\)"),  # (twelve classes, for three samples)
])
def test_a_model_that_gives_another_number_of_rows_is_refused(output: Any, shape: str) -> None:
    with pytest.raises(ValueError, match=r"^predict: the model should give one row of outputs "
                                         rf"per sample, \(3, outputs\) for X of shape \(3, 2\); "
                                         rf"it gave shape {shape}$"):
        predict(lambda X: output, X3)


@pytest.mark.parametrize("steps", [-1, 2.0, True, None])
def test_train_binary_wants_a_whole_number_of_steps(steps: Any) -> None:
    # (-1: no training and [], silently; 2.0: a bare TypeError from range; True: one step)
    X, y = logic_gate("xor")
    with pytest.raises(ValueError, match=f"^train_binary: steps must be an integer ≥ 0; "
                                         f"got {steps!r}$"):
        train_binary(MLP(2, [3, 1], seed=0), X, y, steps=steps, lr=0.1)
    assert train_binary(MLP(2, [3, 1], seed=0), X, y, steps=0, lr=0.1) == []


@pytest.mark.parametrize(("test", "message"), [
    ((X3, [0, 1, 0], [0]), r"test must be an \(X, y\) pair; got tuple of 3"),
    (X3, r"test must be an \(X, y\) pair; got ndarray"),
    ((X3, np.array([[0], [1], [0]])), r"got X of shape \(3, 2\) and y of shape \(3, 1\)"),
    ((X3, [0, 1]), r"got X of shape \(3, 2\) and y of shape \(2,\)"),
    ((X3[:0], []), r"got X of shape \(0, 2\) and y of shape \(0,\)"),
])
def test_bad_test_data_is_refused_before_any_training(test: Any, message: str) -> None:
    # (a TypeError from evaluate, or cross_entropy's words, after the first epoch had run)
    X, y = make_moons(20, seed=0)
    model = MLP(2, [4, 2], seed=0)
    before = [np.copy(p.data) for p in model.parameters()]
    with pytest.raises(ValueError, match=f"^train_classifier: .*{message}"):
        train_classifier(model, DataLoader((X, y), 5), Adam(model.parameters()), epochs=1,
                         test=test)
    for p, was in zip(model.parameters(), before, strict=True):
        np.testing.assert_array_equal(p.data, was)


def test_an_optimizer_of_another_model_is_refused() -> None:
    # (it trained nothing, silently: a flat History)
    X, y = make_moons(20, seed=0)
    model, other = MLP(2, [4, 2], seed=0), MLP(2, [4, 2], seed=1)
    with pytest.raises(ValueError, match="none of the optimizer's parameters is one of the "
                                         "model's"):
        train_classifier(model, DataLoader((X, y), 5), SGD(other.parameters(), lr=0.1),
                         epochs=1)
    with pytest.raises(ValueError, match=r"optimizer must be an optimizer .*; got list"):
        train_classifier(model, DataLoader((X, y), 5), model.parameters(),  # type: ignore
                         epochs=1)


def test_evaluate_on_no_samples_says_so() -> None:
    with pytest.raises(ValueError, match=r"^evaluate: no samples \(X of shape \(0, 2\)"):
        evaluate(MLP(2, [3], seed=0), np.zeros((0, 2)), [])


@pytest.mark.parametrize(("losses", "best"), [
    ([3.0, 1.0, float("nan")], 2),  # (3: the nan epoch, as np.argmin takes a nan)
    ([float("nan"), 2.0, 1.0], 3),  # (1)
])
def test_a_nan_test_loss_is_never_the_best_epoch(losses: list[float], best: int) -> None:
    history = History(train_loss=[1.0] * len(losses), test_loss=losses)
    assert history.best_epoch == best
    with pytest.raises(ValueError, match="every test loss is nan"):
        History(train_loss=[1.0], test_loss=[float("nan")]).best_epoch  # noqa: B018


@given(pairs=st.lists(st.tuples(st.integers(0, 4), st.integers(0, 4)), max_size=30),
       dtype=st.sampled_from([np.uint8, np.int8, np.uint16, np.int32, np.int64, np.uint64,
                              np.float64, "list"]))
@settings(max_examples=60, deadline=None)
def test_the_confusion_matrix_is_scikit_learns(pairs: list[tuple[int, int]],
                                               dtype: Any) -> None:
    # (uint8 labels, as read_idx gives MNIST's: OverflowError; [] and 0.0, 1.0: refused)
    true = [t for t, _ in pairs]
    pred = [p for _, p in pairs]
    given_true: Any = true if dtype == "list" else np.array(true, dtype=dtype)
    given_pred: Any = pred if dtype == "list" else np.array(pred, dtype=dtype)
    ours = confusion_matrix(given_true, given_pred, num_classes=5)
    theirs = sklearn.metrics.confusion_matrix(true, pred, labels=range(5)) if pairs \
        else np.zeros((5, 5))
    np.testing.assert_array_equal(ours, theirs)
    assert ours.dtype == np.int64


def test_the_confusion_matrix_takes_the_booleans_of_a_threshold() -> None:
    scores = np.array([0.3, -1.0, 2.0])
    assert confusion_matrix([1, 0, 0], scores > 0).tolist() == [[1, 1], [0, 1]]
    assert confusion_matrix([], []).shape == (0, 0)
    with pytest.raises(ValueError, match=r"label 9223372036854775808 at index 0 of y_pred is too "
                                         r"large for a class index"):
        confusion_matrix(np.array([0], np.uint64), np.array([2**63], np.uint64))


def test_the_accuracy_of_nan_outputs_is_nan_not_the_share_of_class_0() -> None:
    """argmax of a row of nan is 0: a diverged model scored the share of 0s (10% of digits)."""
    model = MLP(4, [3], seed=0)
    for p in model.parameters():
        p.data = np.full(p.shape, np.nan)
    loss, right = evaluate(model, np.ones((5, 4)), [0, 0, 0, 1, 2])
    assert math.isnan(loss) and math.isnan(right)


@pytest.mark.parametrize("output", ["sigmoid", "step"])
def test_train_binary_refuses_a_model_whose_output_is_a_probability_already(output: str) -> None:
    """Its loss takes logits and applies σ itself: on a sigmoid output, σ twice, and the loss
    stopped at 0.503 on XOR classified right (outputs 6e-6 and 0.99997), silently."""
    X, y = logic_gate("xor")
    model = MLP(2, [8, 1], activation="tanh", output_activation=output, seed=0)
    with pytest.raises(ValueError, match=rf"^train_binary: the model's output goes through "
                                         rf"{output} already.*output_activation=None"):
        train_binary(model, X, y, steps=1, lr=0.1)
    assert len(train_binary(MLP(2, [8, 1], activation="tanh", seed=0), X, y, steps=2,
                            lr=0.1)) == 2


@pytest.mark.parametrize(("test", "said"), [
    (lambda X, y: (X[:, :1], y), r"input features"),
    (lambda X, y: (X, y.astype(bool)), r"booleans"),
])
def test_a_test_pair_the_model_cannot_take_is_refused_before_any_training(
        test: Any, said: str) -> None:
    """The error came after the first epoch, the model trained already, and named neither
    train_classifier nor test."""
    X, y = make_moons(40, seed=0)
    model = MLP(2, [4, 2], seed=0)
    before = [np.copy(p.data) for p in model.parameters()]
    with pytest.raises(ValueError, match=rf"^train_classifier: test: .*{said}"):
        train_classifier(model, DataLoader((X, y), 8), SGD(model.parameters(), lr=0.1),
                         epochs=1, test=test(X, y))
    assert all(np.array_equal(p.data, b) for p, b in zip(model.parameters(), before,
                                                          strict=True))


def test_evaluate_names_a_ragged_x_and_a_model_of_one_output() -> None:
    """A ragged X gave numpy's "inhomogeneous shape"; a model of one output, cross-entropy's
    hints about one-hot labels or "label 1 is outside the 1 classes 0..0"."""
    X, y = make_moons(20, seed=0)
    with pytest.raises(ValueError, match=r"^evaluate: X must be an array of numbers"):
        evaluate(MLP(2, [3], seed=0), [[1.0, 2.0], [3.0]], [0, 1])
    for model in (lambda A: A[:, 0], MLP(2, [3, 1], seed=0)):
        with pytest.raises(ValueError, match=r"^evaluate: the model gave outputs of shape "
                                             r"\(20,( 1)?\) .*accuracy\(model, X, y\)"):
            evaluate(model, X, y)
    loss, right = evaluate(MLP(2, [3], seed=0), X[0], int(y[0]))  # one sample, 3 classes
    assert math.isfinite(loss) and right in (0.0, 1.0)


def test_a_batch_of_images_is_evaluated_and_trained_on() -> None:
    """Samples of more than one axis (images, (n, 2, 2)) flattened by the model: the check of
    a one-output model took their outputs (n, classes) for the wrong shape."""
    from tinygrad_edu.nn import Module

    class Flat(Module):
        def __init__(self) -> None:
            self.W = Value(np.random.default_rng(0).normal(size=(4, 3)))

        def forward(self, x: Any) -> Any:
            return np.asarray(x).reshape(len(x), -1) @ self.W

    X = np.random.default_rng(1).normal(size=(20, 2, 2))
    y = np.arange(20) % 3
    model = Flat()
    history = train_classifier(model, DataLoader((X, y), 5), SGD(model.parameters(), lr=0.1),
                               epochs=2, test=(X, y))
    assert history.epochs == 2 and math.isfinite(evaluate(model, X, y)[0])
