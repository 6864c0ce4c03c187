"""Class labels as every function that takes them reads them, through one check
(`data.class_indices`): the labels y of plot_decision_boundary, the classes a model's own
``predict`` gives (grid_predictions, predict), the labels of accuracy and confusion_matrix.
What one of them takes, all take, as the same classes; what one refuses, all refuse, naming
the first label that is no class index and where it is."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from decimal import Decimal
from fractions import Fraction
from typing import Any

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pytest
import sklearn.metrics
from matplotlib.figure import Figure

from tinygrad_edu.plots import grid_predictions, plot_decision_boundary
from tinygrad_edu.training import accuracy, confusion_matrix, predict

matplotlib.use("Agg")

X4 = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
"""Four points; a grid of resolution 2 around them has four points too."""


@pytest.fixture(autouse=True)
def no_figure_left_behind() -> Iterator[None]:
    plt.close("all")
    yield
    plt.close("all")


class Gives:
    """A model whose ``predict`` gives whatever it is told to."""

    def __init__(self, classes: Any) -> None:
        self.classes = classes

    def predict(self, points: np.ndarray) -> Any:
        return self.classes


def objects(values: list[Any]) -> np.ndarray:
    """`values` in an object array, as a pandas column of mixed numbers holds them."""
    array = np.empty(len(values), dtype=object)
    array[:] = values
    return array


def drawn_classes(labels: Any) -> list[int]:
    """The classes plot_decision_boundary names in its legend for the points labelled so."""
    ax = plot_decision_boundary(Gives(np.zeros(4, dtype=np.int64)), X4, labels,
                                Figure().subplots(), resolution=2)
    return [int(text.removeprefix("class ")) for text in ax.get_legend_handles_labels()[1]]


TAKE_CLASSES: dict[str, Callable[[Any], Any]] = {
    "plot_decision_boundary": drawn_classes,
    "grid_predictions": lambda given: grid_predictions(Gives(given), X4, resolution=2)[2],
    "predict": lambda given: predict(Gives(given), np.zeros((4, 2))),
}
"""The functions that read class indices with a float64 array before (0.5 and nan refused)."""


@pytest.mark.parametrize("labels", [
    ["0", "1", "1", "0"],  # (strings that numpy parsed as numbers: refused by accuracy)
    [b"0", b"1", b"1", b"0"],
    np.array([0, 1 + 1j, 2, 3]),  # (the imaginary part was dropped: class 1)
    np.array([0, 1, 2, 3], dtype="m8[s]"),
    np.array([0, 1, 2, 3], dtype="M8[s]"),
], ids=["digit strings", "bytes", "complex", "time spans", "dates"])
@pytest.mark.parametrize("caller", list(TAKE_CLASSES))
def test_strings_complex_numbers_and_times_are_no_class_indices(caller: str,
                                                                labels: Any) -> None:
    """They were class indices to the plots and to predict (through float64), not to accuracy
    or confusion_matrix; to none of them now, as to PyTorch."""
    with pytest.raises(ValueError, match=r"must be class indices 0, 1, 2, \.\.\. \(whole numbers "
                                         r"≥ 0\); got \["):
        TAKE_CLASSES[caller](labels)


@pytest.mark.parametrize("labels", [
    np.array([0, 2**53 + 1, 1, 1]),  # (was class 2**53: float64 has no 2**53 + 1)
    [0, 2**53 + 1, 1, 1],
    objects([Decimal(0), Decimal(2**53 + 1), Decimal(1), Decimal(1)]),
    np.array([0, 2**63 - 1, 1, 1]),  # (refused: 2**63 - 1 rounded to 2**63)
    np.array([0, 2**63 - 1, 1, 1], dtype=np.uint64),
], ids=["int64 2**53+1", "list 2**53+1", "Decimal 2**53+1", "int64 2**63-1", "uint64 2**63-1"])
@pytest.mark.parametrize("caller", list(TAKE_CLASSES))
def test_integer_classes_are_taken_exactly(caller: str, labels: Any) -> None:
    """As accuracy and confusion_matrix took them: every int64, digit for digit."""
    exact = [int(label) for label in labels]
    classes = np.asarray(TAKE_CLASSES[caller](labels)).reshape(-1).tolist()
    assert classes == (sorted(set(exact)) if caller == "plot_decision_boundary" else exact)


@pytest.mark.parametrize("labels", [
    objects([Decimal(0), Decimal("1.0"), Decimal(2), Decimal(3)]),
    objects([Fraction(0), Fraction(1), Fraction(4, 2), Fraction(3)]),
], ids=["Decimals", "Fractions"])
def test_whole_numbers_kept_as_objects_are_labels(labels: np.ndarray) -> None:
    """accuracy and confusion_matrix refused them (the plots took them): numbers in an object
    array, as in a pandas column."""
    assert accuracy(Gives(np.arange(4)), np.zeros((4, 2)), labels) == 1.0
    np.testing.assert_array_equal(confusion_matrix(labels, [0, 0, 1, 3]),
                                  confusion_matrix([0, 1, 2, 3], [0, 0, 1, 3]))


@pytest.mark.parametrize("caller", [*TAKE_CLASSES, "accuracy", "confusion_matrix"])
@pytest.mark.parametrize(("labels", "named"), [
    (objects([0, None, 1, 1]), r"got None at index 1 in \[0, None, 1, 1\] of object"),
    (objects([Decimal(0), Decimal("0.5"), Decimal(1), Decimal(1)]),
     r"got Decimal\('0\.5'\) at index 1 in \[Decimal\('0'\), Decimal\('0\.5'\)"),
    (np.array([0.0, 1.0, 1.0, 2.5]), r"got 2\.5 at index 3 in \[0\.0, 1\.0, 1\.0, 2\.5\] of "
                                     r"float64"),
], ids=["None", "Decimal 0.5", "2.5"])
def test_the_first_label_that_is_no_class_index_is_named_with_its_index(
        caller: str, labels: Any, named: str) -> None:
    """The plots named the label alone (None as nan), accuracy and confusion_matrix the first
    five labels alone."""
    calls: dict[str, Callable[[Any], Any]] = {
        **TAKE_CLASSES,
        "accuracy": lambda given: accuracy(Gives(np.arange(4)), np.zeros((4, 2)), given),
        "confusion_matrix": lambda given: confusion_matrix(given, [0, 0, 0, 0]),
    }
    with pytest.raises(ValueError, match=r"must be class indices 0, 1, 2, \.\.\. \(whole numbers "
                                         rf"≥ 0\); {named}"):
        calls[caller](labels)


@pytest.mark.parametrize(("true", "pred"), [
    (np.array([[0], [1], [2], [1]]), np.array([0, 2, 2, 1])),
    (np.array([0, 1, 2, 1]), np.array([[0], [2], [2], [1]])),
    (np.array([[0], [1], [2], [1]]), np.array([[0], [2], [2], [1]])),
], ids=["true", "pred", "both"])
def test_the_confusion_matrix_takes_columns_of_labels_as_scikit_learn_does(
        true: np.ndarray, pred: np.ndarray) -> None:
    """Labels of shape (n, 1) were refused by confusion_matrix only (accuracy and the plots
    took them, and so does scikit-learn)."""
    np.testing.assert_array_equal(confusion_matrix(true, pred),
                                  sklearn.metrics.confusion_matrix(true, pred))


def test_a_ragged_list_of_labels_is_named() -> None:
    """It was numpy's 'setting an array element with a sequence', which names no argument."""
    with pytest.raises(ValueError, match=r"^confusion_matrix: y_true must be class indices .*"
                                         r"got \[\[0\], \[1, 2\]\] \(type list\), which is no "
                                         r"array"):
        confusion_matrix([[0], [1, 2]], [0, 1])


@pytest.mark.parametrize("name", ["y_true", "y_pred"])
def test_the_largest_int64_label_is_counted_in_the_argument_that_holds_it(name: str) -> None:
    """Label 2**63 - 1, a class index now, made y_true's largest label + 1 wrap round in
    int64, so the message named y_pred."""
    labels = {"y_true": [0, 2**63 - 1], "y_pred": [0, 0]}
    if name == "y_pred":
        labels = {"y_true": [0, 0], "y_pred": [0, 2**63 - 1]}
    with pytest.raises(ValueError, match=rf"^confusion_matrix: {name} holds label "
                                         rf"{2**63 - 1}, so the matrix would have {2**63} rows"):
        confusion_matrix(labels["y_true"], labels["y_pred"])


def test_the_advice_for_labels_plus_minus_1_is_given_for_those_only() -> None:
    """plot_decision_boundary advised (y + 1) // 2 for any labels whose first wrong one was -1:
    for -1, 2, 0, 1 that makes classes 0, 1, 0, 1 of four."""
    with pytest.raises(ValueError) as refused:
        drawn_classes([-1, 2, 0, 1])
    assert "np.unique(y, return_inverse=True)" in str(refused.value)
    assert "±1" not in str(refused.value) and "+1" not in str(refused.value)
    with pytest.raises(ValueError, match=r"got -1 at index 0 in \[-1, 1, 1, -1\] of int64; for "
                                         r"labels ±1 \(as for hinge_loss\), pass y > 0: -1 is "
                                         r"class 0$"):
        drawn_classes([-1, 1, 1, -1])


def test_accuracy_names_a_ragged_y() -> None:
    """A ragged y gave numpy's "inhomogeneous shape", which names neither accuracy nor y."""
    model = Gives(np.array([0, 1]))
    with pytest.raises(ValueError, match=r"accuracy: y must be class indices .*\[\[1\], \[0, 1\]\]"
                                         r".*no array \(ragged\?\)"):
        accuracy(model, np.zeros((2, 2)), [[1], [0, 1]])


@pytest.mark.parametrize("X", [[[1.0], [0.0, 1.0]], [["a", "b"], ["c", "d"]]],
                         ids=["ragged", "strings"])
@pytest.mark.parametrize("who", ["predict", "accuracy"])
def test_an_unreadable_X_is_named(who: str, X: Any) -> None:
    """numpy's "inhomogeneous shape" or "could not convert string to float" named neither the
    function nor X (accuracy's messages about the classes say predict, which gives them)."""
    model = Gives(np.array([0, 1]))
    with pytest.raises(ValueError, match=r"^predict: X must be an array of numbers, one row per "
                                         r"sample; got \[\["):
        predict(model, X) if who == "predict" else accuracy(model, X, [0, 1])
