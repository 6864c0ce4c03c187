"""Pictures and metrics with many classes and unusual labels: every class its own colour,
marker and shade (six of each were shared out with k % 6, so class 6 looked like class 0),
labels such as 0 and 10**6 counted as two classes (not a million rows), and classes given by a
model's own ``predict`` checked as labels are."""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator
from typing import Any

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pytest
import sklearn.metrics
from hypothesis import given, settings
from hypothesis import strategies as st
from matplotlib.axes import Axes
from matplotlib.collections import PathCollection
from matplotlib.colors import to_hex
from matplotlib.contour import ContourSet
from matplotlib.figure import Figure

from tinygrad_edu.nn import MLP
from tinygrad_edu.plots import grid_predictions, plot_confusion_matrix, plot_decision_boundary
from tinygrad_edu.training import MAX_CLASSES, accuracy, confusion_matrix, predict, train_binary

matplotlib.use("Agg")


@pytest.fixture(autouse=True)
def no_figure_left_behind() -> Iterator[None]:
    plt.close("all")
    yield
    plt.close("all")


class Nearest:
    """A model that gives its classes itself: the class of the nearest centre."""

    def __init__(self, centres: dict[int, tuple[float, float]]) -> None:
        self.classes = np.array(list(centres), dtype=np.int64)
        self.centres = np.array(list(centres.values()), dtype=np.float64)

    def predict(self, points: np.ndarray) -> np.ndarray:
        distances = ((points[:, None, :] - self.centres[None]) ** 2).sum(axis=-1)
        nearest: np.ndarray = self.classes[distances.argmin(axis=1)]
        return nearest


def blobs(classes: list[int]) -> tuple[Nearest, np.ndarray, np.ndarray]:
    """Two points of each class around its centre on a circle, and the nearest-centre model."""
    centres = {k: (3.0 * math.cos(2 * math.pi * i / len(classes)),
                   3.0 * math.sin(2 * math.pi * i / len(classes)))
               for i, k in enumerate(classes)}
    y = np.repeat(np.array(classes, dtype=np.int64), 2)
    X = np.array([centres[k] for k in y.tolist()]) + np.tile([[0.2, 0.0], [0.0, 0.2]],
                                                           (len(classes), 1))
    return Nearest(centres), X, y


def points_of(ax: Axes) -> dict[str, tuple[str, bytes]]:
    """Each class's points as drawn: legend label -> (face colour, marker outline)."""
    drawn = {}
    for collection in ax.collections:
        if isinstance(collection, PathCollection):
            label = str(collection.get_label())
            assert label not in drawn, f"{label} drawn twice"
            vertices = collection.get_paths()[0].vertices
            outline = np.asarray(vertices, dtype=np.float64).round(6).tobytes()
            drawn[label] = (hex_of(collection.get_facecolor()[0]), outline)
    return drawn


def region_shades(ax: Axes) -> list[str]:
    """The colours of the regions behind the points, one per filled band that is drawn."""
    return [hex_of(colour) for filled in ax.collections
            if isinstance(filled, ContourSet) and filled.filled
            for path, colour in zip(filled.get_paths(), filled.get_facecolor(), strict=True)
            if np.asarray(path.vertices).size]


def hex_of(colour: Any) -> str:
    """A matplotlib colour as '#rrggbb'."""
    return str(to_hex(colour))


@given(classes=st.sets(st.integers(0, 40), min_size=1, max_size=14))
@settings(max_examples=12, deadline=None)
def test_every_class_has_its_own_colour_marker_and_shade(classes: set[int]) -> None:
    """k % 6 gave classes 0 and 6 the same colour, marker and shade, and a colormap of 6
    shades spread over 8 regions gave two neighbouring regions one shade."""
    present = sorted(classes)
    model, X, y = blobs(present)
    ax = plot_decision_boundary(model, X, y, Figure().subplots(), resolution=24, shade="class")
    drawn = points_of(ax)
    assert list(drawn) == [f"class {k}" for k in present]  # each class once, in order
    legend = ax.legend()
    assert [text.get_text() for text in legend.get_texts()] == list(drawn)
    styles = {k: drawn[f"class {k}"] for k in present}
    for j, k in itertools.combinations(present, 2):
        assert styles[j] != styles[k], f"classes {j} and {k} are drawn alike"
        if k < 10:
            assert styles[j][0] != styles[k][0] and styles[j][1] != styles[k][1]
    # each region in its class's shade, one shade per class among the first ten
    regions = np.unique(grid_predictions(model, X, resolution=24)[2]).tolist()
    shade_of = dict(zip(regions, region_shades(ax), strict=True))
    first_ten = [shade_of[k] for k in shade_of if k < 10]
    assert len(set(first_ten)) == len(first_ten)


def test_ten_classes_differ_in_all_three_and_110_in_colour_and_marker() -> None:
    model, X, y = blobs(list(range(110)))
    ax = plot_decision_boundary(model, X, y, Figure().subplots(), resolution=4, shade="class")
    styles = list(points_of(ax).values())
    assert len(set(styles)) == 110
    assert len({colour for colour, _ in styles[:10]}) == 10
    assert len({marker for _, marker in styles[:10]}) == 10
    model, X, y = blobs(list(range(10)))
    ax = plot_decision_boundary(model, X, y, Figure().subplots(), resolution=40, shade="class")
    assert len(set(region_shades(ax))) == 10


def test_labels_far_apart_are_two_classes_not_a_range() -> None:
    """Labels 0 and 100 drew 101 point sets (99 empty ones named in the legend) and 101
    contour levels; labels 0 and 10**6 did not finish."""
    for far in (100, 10**6):
        model, X, y = blobs([0, far])
        ax = plot_decision_boundary(model, X, y, Figure().subplots(), resolution=8,
                                    shade="class")
        assert list(points_of(ax)) == ["class 0", f"class {far}"]
        assert len(region_shades(ax)) == 2


def shade_of(k: int) -> list[str]:
    """The shade of class k's region, drawn alone."""
    model, X, y = blobs([k])
    return region_shades(plot_decision_boundary(model, X, y, Figure().subplots(), resolution=3))


def test_each_region_has_the_shade_of_its_class_whatever_y_holds() -> None:
    """Classes 0 and 3 were drawn with strips of classes 1 and 2 between them. (A class
    predicted but absent from y, and one in y never predicted: a regression test.)"""
    model, X, y = blobs([0, 3])
    ax = plot_decision_boundary(model, X, y, Figure().subplots(), resolution=8)
    assert region_shades(ax) == shade_of(0) + shade_of(3)
    ax = plot_decision_boundary(Nearest({3: (0.0, 0.0)}), X, y, Figure().subplots(),
                                resolution=5)
    assert region_shades(ax) == shade_of(3)
    assert list(points_of(ax)) == ["class 0", "class 3"]


def test_class_names_must_cover_the_classes_of_y() -> None:
    """A name list too short drew 'class 5' beside the given names; a string was taken
    letter by letter."""
    model, X, y = blobs([0, 5])
    ax = plot_decision_boundary(model, X, y, Figure().subplots(), resolution=5,
                                labels=[f"digit {k}" for k in range(6)])
    assert list(points_of(ax)) == ["digit 0", "digit 5"]
    with pytest.raises(ValueError, match=r"labels names 5 classes .* y holds class 5"):
        plot_decision_boundary(model, X, y, resolution=5, labels=["a", "b", "c", "d", "e"])
    with pytest.raises(ValueError, match=r"plot_decision_boundary: labels must be a list of "
                                         r"names.*got 'ab'"):
        plot_decision_boundary(*blobs([0, 1]), resolution=5, labels="ab")
    with pytest.raises(ValueError, match=r"plot_confusion_matrix: labels must be a list of "
                                         r"names.*got 'ab'"):
        plot_confusion_matrix(np.eye(2), labels="ab")
    assert plt.get_fignums() == []


def test_string_labels_say_how_to_number_them() -> None:
    model, X, _ = blobs([0, 1])
    with pytest.raises(ValueError, match=r"labels y must be class indices .*np\.unique\(y, "
                                         r"return_inverse=True\)"):
        plot_decision_boundary(model, X, ["cat", "cat", "dog", "dog"], resolution=5)
    with pytest.raises(ValueError, match=r"y_true must be class indices .*got \['cat', 'dog'\] "
                                         r"of <U3; .*np\.unique"):
        confusion_matrix(["cat", "dog"], ["dog", "dog"])


@pytest.mark.parametrize(("true", "pred", "message"), [
    ([0, 10**6], [0, 1], r"y_true holds label 1000000, so the matrix would have 1000001 rows "
                         r"and columns .* for 2 samples; at most 10000 classes"),
    ([0, 1], [10**6, 1], r"y_pred holds label 1000000"),
])
def test_a_confusion_matrix_of_a_million_classes_is_refused(true: list[int], pred: list[int],
                                                            message: str) -> None:
    """It tried to allocate 10**12 counts (7 TiB); labels 0 and 10**4 took 800 MB."""
    with pytest.raises(ValueError, match=rf"^confusion_matrix: {message}"):
        confusion_matrix(true, pred)
    with pytest.raises(ValueError, match=rf"num_classes is {MAX_CLASSES + 1}; at most"):
        confusion_matrix([0, 1], [0, 1], num_classes=MAX_CLASSES + 1)


@given(labels=st.lists(st.tuples(st.integers(0, 30), st.integers(0, 30)), min_size=1,
                       max_size=20))
@settings(max_examples=30, deadline=None)
@pytest.mark.filterwarnings("ignore:A single label was found")  # (scikit-learn's)
def test_the_confusion_matrix_of_object_arrays_is_scikit_learns(
        labels: list[tuple[int, int]]) -> None:
    """Numbers in an object array (a pandas column) were refused as not class indices."""
    true = np.array([t for t, _ in labels], dtype=object)
    pred = np.array([p for _, p in labels], dtype=object)
    classes = max(max(pair) for pair in labels) + 1
    expected = sklearn.metrics.confusion_matrix(true.astype(int), pred.astype(int),
                                                labels=range(classes))
    np.testing.assert_array_equal(confusion_matrix(true, pred), expected)


class Gives:
    """A model whose ``predict`` gives whatever it is told to."""

    def __init__(self, classes: Any) -> None:
        self.classes = classes

    def predict(self, points: np.ndarray) -> Any:
        return self.classes


@pytest.mark.parametrize(("classes", "message"), [
    ([0.7, 1.0], "got 0.7"),  # (class 0, counted right)
    ([math.nan, 1.0], "got nan"),  # (class -2**63)
    ([-1, 1], "got -1"),
    (["a", "b"], r"got \['a', 'b'\] of <U1"),  # (numpy's "invalid literal for int()")
    ([0, 1, 1], r"one class per point, shape \(2,\); got shape \(3,\)"),  # ("3 samples in X")
])
def test_classes_a_model_gives_itself_must_be_class_indices(classes: Any, message: str) -> None:
    with pytest.raises(ValueError, match=rf"^predict: Gives\.predict: its classes .*{message}"):
        predict(Gives(classes), np.zeros((2, 2)))
    with pytest.raises(ValueError, match=message):
        accuracy(Gives(classes), np.zeros((2, 2)), [0, 1])
    assert accuracy(Gives([0, 5]), np.zeros((2, 2)), [0, 1]) == 0.5
    assert int(predict(Gives(3), np.zeros(2))) == 3


def test_no_sliver_of_a_third_class_where_two_classes_meet() -> None:
    """One contour of the class numbers drew, where classes 0 and 2 meet, a strip in class
    1's shade (the interpolation from 0 to 2 passes through 1) and a boundary line too many."""
    model, X, y = blobs([0, 1, 2])
    ax = plot_decision_boundary(model, X, y, Figure().subplots(), resolution=30)
    shade_one = shade_of(1)
    xx, yy, classes, _ = grid_predictions(model, X, resolution=30)
    # the centres of the grid cells whose four corners are all of class 0 or 2
    corners = np.stack([classes[:-1, :-1], classes[1:, :-1], classes[:-1, 1:], classes[1:, 1:]])
    between = (corners != 1).all(axis=0) & (corners == 0).any(axis=0) & (corners == 2).any(axis=0)
    assert between.any()
    centres = np.column_stack([((xx[:-1, :-1] + xx[1:, 1:]) / 2)[between],
                               ((yy[:-1, :-1] + yy[1:, 1:]) / 2)[between]])
    for filled in ax.collections:
        if isinstance(filled, ContourSet) and filled.filled:
            for path, colour in zip(filled.get_paths(), filled.get_facecolor(), strict=True):
                if np.asarray(path.vertices).size and [hex_of(colour)] == shade_one:
                    assert not path.contains_points(centres).any()


def test_a_model_of_no_outputs_has_no_class() -> None:
    """It was numpy's IndexError 'index 0 is out of bounds for axis 1 with size 0'."""
    with pytest.raises(ValueError, match=r"^predict: the model gave no output \(shape \(2, 0\)\)"):
        predict(lambda points: np.zeros((len(points), 0)), np.zeros((2, 2)))


def test_train_binary_names_labels_that_are_not_numbers() -> None:
    """It was numpy's "could not convert string to float: 'cat'"."""
    with pytest.raises(ValueError, match=r"^train_binary: y must hold the labels 0 and 1 "
                                         r"\(numbers\); got \['cat', 'dog'\]"):
        train_binary(MLP(2, [1], seed=0), np.zeros((2, 2)), ["cat", "dog"], steps=1, lr=0.1)
    with pytest.raises(ValueError, match=r"^train_binary: X must be an array of numbers"):
        train_binary(MLP(2, [1], seed=0), [["a", "b"]], [0], steps=1, lr=0.1)


def test_a_third_output_that_never_wins_does_not_turn_the_colours_around() -> None:
    """Classes 0 and 1 of a 3-output model: where the class predicted had p < 0.5 (the third
    class close behind), the blue-to-orange scale of P(class 1) put class 0's region on the
    orange side and class 1's on the blue, and drew the boundary at p = 0.5, not between them."""
    def model(points: np.ndarray) -> np.ndarray:
        x = points[:, 0]
        return np.column_stack([-x, x, np.abs(x) - 0.01])  # (class 2 is never the argmax)
    X = np.array([[-1.0, 0.0], [1.0, 0.0], [-1.0, 1.0], [1.0, 1.0]])
    ax = plot_decision_boundary(model, X, [0, 1, 0, 1], Figure().subplots(), resolution=9)
    assert region_shades(ax) == shade_of(0) + shade_of(1)
    assert plot_decision_boundary(  # (two outputs: the probability scale, as before)
        lambda points: np.column_stack([-points[:, 0], points[:, 0]]), X, [0, 1, 0, 1],
        Figure().subplots(), resolution=9).collections[0].get_cmap().name == "tinygrad_edu"
