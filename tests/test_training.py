"""tinygrad_edu.training: mini-batch training with per-epoch history, full-batch
`train_binary`, evaluation, the confusion matrix (`accuracy` is exercised by the examples too)."""

from __future__ import annotations

import functools
import math
import re
from typing import Any, cast

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tinygrad_edu
from tinygrad_edu import Value, activations
from tinygrad_edu.activations import ACTIVATIONS
from tinygrad_edu.data import Array
from tinygrad_edu.datasets import DataLoader, logic_gate, make_moons, make_spiral
from tinygrad_edu.losses import binary_cross_entropy_with_logits, cross_entropy
from tinygrad_edu.nn import MLP
from tinygrad_edu.optim import SGD, Adam, Optimizer
from tinygrad_edu.perceptron import Perceptron
from tinygrad_edu.training import (
    History,
    accuracy,
    confusion_matrix,
    evaluate,
    predict,
    train_binary,
    train_classifier,
)


def test_train_classifier_is_the_pytorch_loop_it_documents() -> None:
    X, y = make_spiral(30, seed=0)
    model, twin = MLP(2, [8, 2], seed=1), MLP(2, [8, 2], seed=1)
    history = train_classifier(model, DataLoader((X, y), 16, shuffle=True, seed=2),
                               SGD(model.parameters(), lr=0.1), epochs=3)
    optimizer = SGD(twin.parameters(), lr=0.1)
    loader = DataLoader((X, y), 16, shuffle=True, seed=2)
    for _ in range(3):
        for X_batch, y_batch in loader:
            loss = cross_entropy(twin(X_batch), y_batch)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    for p, q in zip(model.parameters(), twin.parameters(), strict=True):
        np.testing.assert_array_equal(p.data, q.data)
    assert history.epochs == 3 and history.test_loss == [] and history.test_accuracy == []
    assert history.train_loss[-1] == pytest.approx(evaluate(model, X, y)[0], abs=0)


@pytest.mark.parametrize("name", ["adam", "sgd"])
def test_train_binary_is_the_full_batch_loop_it_documents(name: str) -> None:
    """optimizer="adam" is Adam(lr) and "sgd" plain SGD(lr), without momentum: the same bits
    as the loop written out, and the loss before each step."""
    X, y = make_moons(20, seed=0)
    model, twin = MLP(2, [4, 1], seed=1), MLP(2, [4, 1], seed=1)
    losses = train_binary(model, X, y, steps=5, lr=0.1, optimizer=name)
    optimizer: Optimizer = (Adam if name == "adam" else SGD)(twin.parameters(), lr=0.1)
    twin_losses = []
    for _ in range(5):
        loss = binary_cross_entropy_with_logits(twin(X), y.astype(np.float64))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        twin_losses.append(loss.item())
    for p, q in zip(model.parameters(), twin.parameters(), strict=True):
        np.testing.assert_array_equal(p.data, q.data)
    assert losses == twin_losses


def test_the_history_measures_both_parts_after_each_epoch() -> None:
    X, y = make_spiral(60, noise=0.02, seed=0)
    model = MLP(2, [32, 2], activation="tanh", seed=0)
    losses: list[tuple[float, float]] = []
    opt = Adam(model.parameters(), lr=0.02)
    loader = DataLoader((X[:80], y[:80]), 20, shuffle=True, seed=0)
    history = History()
    for _ in range(4):
        one = train_classifier(model, loader, opt, epochs=1, test=(X[80:], y[80:]))
        losses.append((evaluate(model, X[:80], y[:80])[0], evaluate(model, X[80:], y[80:])[0]))
        history.train_loss += one.train_loss
        history.test_loss += one.test_loss
        assert one.train_accuracy == [accuracy(model, X[:80], y[:80])]
        assert one.test_accuracy == [accuracy(model, X[80:], y[80:])]
    assert [a for a, _ in losses] == pytest.approx(history.train_loss, abs=0)
    assert [b for _, b in losses] == pytest.approx(history.test_loss, abs=0)
    assert opt.t == 4 * len(loader)  # one step per batch


def test_the_progress_bar_moves_once_a_batch() -> None:
    class Counter:
        count = 0

        def update(self, n: int = 1) -> None:
            self.count += n

        def close(self) -> None:
            pass

    X, y = make_spiral(10, seed=0)
    bar = Counter()
    model = MLP(2, [2], seed=0)
    train_classifier(model, DataLoader((X, y), 3), Adam(model.parameters()), epochs=2, bar=bar)
    assert bar.count == 2 * 7


def test_best_epoch_is_where_the_test_loss_is_lowest() -> None:
    history = History(train_loss=[3.0, 2.0, 1.0, 0.5], test_loss=[3.0, 1.5, 1.7, 2.0])
    assert history.epochs == 4 and history.best_epoch == 2
    with pytest.raises(ValueError, match="no test loss was recorded"):
        History(train_loss=[1.0]).best_epoch  # noqa: B018


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"epochs": 0}, "train_classifier: epochs must be a positive integer; got 0"),
    ({"epochs": 1, "loader": DataLoader(np.zeros((4, 2)), 2)},
     "loader must be a DataLoader of \\(X, y\\) batches"),
    ({"epochs": 1, "loader": [(np.zeros((4, 2)), np.zeros(4))]}, "got \\[\\("),
])
def test_train_classifier_refuses_bad_arguments(kwargs: dict[str, Any], message: str) -> None:
    model = MLP(2, [2], seed=0)
    arguments: dict[str, Any] = {"loader": DataLoader((np.zeros((4, 2)), np.zeros(4, int)), 2),
                                 **kwargs}
    with pytest.raises(ValueError, match=message):
        train_classifier(model, optimizer=Adam(model.parameters()), **arguments)


def test_predict_and_evaluate() -> None:
    model = MLP(2, [3], seed=0)
    cast(Array, model.layers[0].W.data)[:] = [[1.0, 0.0, -1.0], [0.0, 1.0, 0.0]]
    cast(Array, model.layers[0].b.data)[:] = 0.0
    X = np.array([[2.0, 0.0], [0.0, 2.0], [-2.0, 0.0]])
    assert predict(model, X).tolist() == [0, 1, 2]
    loss, right = evaluate(model, X, [0, 1, 1])
    logits = X @ model.layers[0].W.data
    log_softmax = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    assert loss == pytest.approx(-np.mean(log_softmax[[0, 1, 2], [0, 1, 1]]), rel=1e-12)
    assert right == pytest.approx(2 / 3)
    binary = MLP(2, [1], seed=0)
    cast(Array, binary.layers[0].W.data)[:] = [[1.0], [0.0]]
    cast(Array, binary.layers[0].b.data)[:] = 0.0
    assert predict(binary, X).tolist() == [1, 0, 0]
    assert accuracy(binary, X, [1, 1, 0]) == pytest.approx(2 / 3)
    assert accuracy(binary, X, [[1], [1], [0]]) == pytest.approx(2 / 3)  # (a column: its labels)


@pytest.mark.parametrize(("labels", "message"), [
    ([0], "3 samples in X but 1 label in y"),  # (compared with every sample, it gave 2/3)
    ([0, 1], "3 samples in X but 2 labels in y"),  # (numpy's broadcast error, before)
])
def test_accuracy_wants_one_label_per_sample(labels: list[int], message: str) -> None:
    with pytest.raises(ValueError, match=f"^accuracy: {message}; give one label per sample$"):
        accuracy(MLP(2, [1], seed=0), np.zeros((3, 2)), labels)


@pytest.mark.parametrize("labels", [[[1, 0], [0, 1]], [[[1], [0]], [[0], [1]]]])
def test_accuracy_wants_a_vector_a_row_or_a_column_of_labels(labels: list[Any]) -> None:
    """Four labels for four samples, but in a matrix: refused, not read row by row (it gave
    0.5 before); a row or a column of them is one label per sample."""
    model, X = MLP(2, [1], seed=0), np.zeros((4, 2))
    with pytest.raises(ValueError, match=re.escape(
            f"accuracy: y must be one label per sample, a vector, a row or a column of 4; got "
            f"shape {np.shape(labels)}")):
        accuracy(model, X, labels)
    flat = np.reshape(labels, -1)
    assert accuracy(model, X, flat[None, :]) == accuracy(model, X, flat[:, None, None]) == \
        accuracy(model, X, flat)


@given(pairs=st.lists(st.tuples(st.integers(0, 5), st.integers(0, 5)), max_size=40))
@settings(max_examples=40)
def test_the_confusion_matrix_counts_each_pair(pairs: list[tuple[int, int]]) -> None:
    true = np.array([t for t, _ in pairs], dtype=np.int64)
    pred = np.array([p for _, p in pairs], dtype=np.int64)
    matrix = confusion_matrix(true, pred, num_classes=6)
    assert matrix.shape == (6, 6) and matrix.sum() == len(pairs)
    for i in range(6):
        for j in range(6):
            assert matrix[i, j] == sum(1 for t, p in pairs if (t, p) == (i, j))
    assert np.trace(matrix) == int(np.sum(true == pred))


@pytest.mark.parametrize(("args", "message"), [
    (([0, 1], [0]), "same length; got shapes \\(2,\\) and \\(1,\\)"),
    (([0, -1], [0, 1]), "y_true must be class indices .*got -1 at index 1"),
    (([0, 1], [0.5, 1.0]), "y_pred must be class indices .*got 0.5 at index 0"),
    (([0, 3], [0, 1], 3), "label 3 is outside the 3 classes 0..2"),
    (([0, 1], [0, 1], 0), "num_classes must be a positive integer"),
])
def test_the_confusion_matrix_refuses_bad_labels(args: tuple[Any, ...], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        confusion_matrix(*args)


def test_one_blas_thread_limits_numpy_and_works_without_threadpoolctl(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from threadpoolctl import threadpool_info

    from tinygrad_edu.training import one_blas_thread

    with one_blas_thread():
        inside = [pool["num_threads"] for pool in threadpool_info()
                  if pool["user_api"] == "blas"]
    assert inside and set(inside) == {1}
    monkeypatch.setitem(__import__("sys").modules, "threadpoolctl", None)
    with one_blas_thread():
        assert float(np.ones((3, 3)) @ np.ones(3) @ np.ones(3)) == 9.0


# ---- predict and accuracy: every output activation, one sample, a Perceptron ----------------


def _forms_of_each_activation() -> list[tuple[str, Any]]:
    """Every way `nn` accepts one of the library's activations: its name, its `Activation`,
    its function, `Value`'s method, plus aliases and parametrised partials."""
    forms: list[tuple[str, Any]] = []
    for name, activation in ACTIVATIONS.items():
        forms += [(name, name), (name, activation), (name, activation.function)]
        if hasattr(Value, name):
            forms.append((name, getattr(Value, name)))
    forms += [
        ("sigmoid", tinygrad_edu.sigmoid), ("sigmoid", "Sigmoid"), ("silu", "swish"),
        ("step", "heaviside"), ("identity", "linear"), ("identity", None),
        ("leaky_relu", functools.partial(activations.leaky_relu, negative_slope=0.2)),
        ("elu", functools.partial(activations.elu, alpha=0.5)),
    ]
    return forms


FORMS = _forms_of_each_activation()


def _one_output_model(activation: Any, w: list[float], b: float) -> MLP:
    model = MLP(2, [1], output_activation=activation, seed=0)
    cast(Array, model.layers[0].W.data)[:] = [[w[0]], [w[1]]]
    cast(Array, model.layers[0].b.data)[:] = [b]
    return model


@pytest.mark.parametrize(("name", "activation"), FORMS, ids=[f"{n}-{type(a).__name__}"
                                                             for n, a in FORMS])
def test_an_activation_given_by_a_callable_is_classified_as_by_its_name(
        name: str, activation: Any) -> None:
    X, y = logic_gate("and")  # the logit x1 + x2 - 1.5 separates it
    model = _one_output_model(activation, [1.0, 1.0], -1.5)
    assert predict(model, X).tolist() == y.tolist()  # (0.25 for a callable sigmoid, before)
    assert accuracy(model, X, y) == 1.0


@given(w=st.lists(st.floats(-3.0, 3.0), min_size=2, max_size=2), b=st.floats(-3.0, 3.0),
       points=st.lists(st.tuples(st.floats(-3.0, 3.0), st.floats(-3.0, 3.0)), min_size=1,
                       max_size=8))
@settings(max_examples=15, deadline=None)
def test_class_1_is_a_positive_logit_whatever_the_output_activation(
        w: list[float], b: float, points: list[tuple[float, float]]) -> None:
    X = np.array(points)
    logits = X @ np.array(w) + b
    keep = np.abs(logits) > 1e-6  # (away from the tie, where rounding decides)
    expected = (logits[keep] > 0).astype(int).tolist()
    for name, activation in FORMS:
        got = predict(_one_output_model(activation, w, b), X)[keep].tolist()
        assert got == expected, (name, activation)


def test_an_activation_of_the_users_own_needs_a_threshold() -> None:
    X, y = logic_gate("and")
    model = _one_output_model(lambda v: v.sigmoid(), [1.0, 1.0], -1.5)
    for call in (lambda: predict(model, X), lambda: accuracy(model, X, y)):
        with pytest.raises(ValueError, match=r"^predict: the output activation of MLP is "
                                             r"<function .*lambda.*pass threshold="):
            call()
    assert predict(model, X, threshold=0.5).tolist() == y.tolist()
    assert accuracy(model, X, y, threshold=0.5) == 1.0
    assert accuracy(model, X, y, threshold=0.0) == 0.25  # what it was silently, before
    logit = _one_output_model("identity", [1.0, 1.0], -1.5)
    assert predict(logit, X, threshold=-1.0).tolist() == [0, 1, 1, 1]  # logit > -1


@pytest.mark.parametrize(("model", "threshold", "message"), [
    (MLP(2, [3], seed=0), 0.5, r"^predict: threshold= is for a model with one output score; "
                               r"this one has 3 outputs"),
    (Perceptron(2, zeros=True), 0.5, "a Perceptron gives its classes itself"),
    (MLP(2, [1], seed=0), math.nan, "threshold must be a number .*; got nan"),
    (MLP(2, [1], seed=0), "0.5", "threshold must be a number .*; got '0.5'"),
])
def test_a_threshold_that_cannot_apply_is_refused(model: Any, threshold: Any,
                                                  message: str) -> None:
    with pytest.raises(ValueError, match=message):
        predict(model, np.zeros((2, 2)), threshold=threshold)


@given(x=st.lists(st.floats(-5.0, 5.0), min_size=2, max_size=2), nout=st.sampled_from([1, 3]))
@settings(max_examples=25, deadline=None)
def test_a_1d_x_is_one_sample_and_gives_its_class(x: list[float], nout: int) -> None:
    model = MLP(2, [4, nout], seed=0)
    one = predict(model, np.array(x))
    assert one.shape == () and one.dtype == np.int64
    assert one == predict(model, np.array([x]))[0] == predict(model, x)
    if nout > 1:  # (it read the 3 outputs as 3 binary scores, before)
        assert int(one) == int(np.asarray(model(np.array(x)).data).argmax())
    assert accuracy(model, x, [int(one)]) == 1.0 and accuracy(model, x, int(one)) == 1.0
    with pytest.raises(ValueError, match=r"^accuracy: 1 sample in X but 2 labels in y"):
        accuracy(model, x, [0, 1])


def test_a_perceptron_is_accepted_as_grid_predictions_accepts_it() -> None:
    X, y = logic_gate("and")
    p = Perceptron(2, zeros=True)
    p.fit(X, y)
    assert predict(p, X).tolist() == p.predict(X).tolist() == y.tolist()
    assert accuracy(p, X, y) == 1.0  # ("'Perceptron' object is not callable", before)
    assert predict(p, X[3]).shape == () and int(predict(p, X[3])) == 1
    assert accuracy(p, X[3], [1]) == 1.0
