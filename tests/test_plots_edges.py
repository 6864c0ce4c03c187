"""The plots at their edges: models that give nan or odd shapes, data on one point, labels
that are not class indices, histories and matrices that do not fit; no figure is left behind
when a plot refuses, and nothing is drawn silently wrong."""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pytest

from tinygrad_edu.datasets import logic_gate
from tinygrad_edu.perceptron import Perceptron
from tinygrad_edu.plots import (
    grid_predictions,
    plot_activations,
    plot_confusion_matrix,
    plot_decision_boundary,
    plot_images,
    plot_learning_curves,
)

matplotlib.use("Agg")


@pytest.fixture(autouse=True)
def no_figure_left_behind() -> Iterator[None]:
    """Every test here opens figures only through the plots, and a plot that refuses its
    arguments must not leave an empty figure open (pyplot keeps it, and warns at 20)."""
    plt.close("all")
    yield
    plt.close("all")


def and_model() -> Perceptron:
    p = Perceptron(2, zeros=True)
    p.weights = [-1.5, 1.0, 1.0]
    return p


def nan_scores(points: np.ndarray) -> np.ndarray:
    out = points[:, 0] - 0.5
    out[points[:, 1] > 0.5] = math.nan
    return out


@pytest.mark.parametrize("model", [nan_scores, lambda P: np.full((len(P), 3), math.nan)])
def test_a_model_that_gives_nan_is_refused_not_drawn_as_class_0(model: Any) -> None:
    X, y = logic_gate("and")
    with pytest.raises(ValueError, match=r"output is nan at \d+ of 16 grid points"):
        grid_predictions(model, X, resolution=4)
    with pytest.raises(ValueError, match="output is nan"):
        plot_decision_boundary(model, X, y, resolution=4)
    assert plt.get_fignums() == []


def test_infinite_scores_of_several_classes_give_probabilities() -> None:
    """exp(inf − inf) made the softmax nan."""
    def model(points: np.ndarray) -> np.ndarray:
        n = len(points)
        return np.column_stack([np.full(n, math.inf), np.zeros(n), np.full(n, -math.inf)])
    _, _, classes, probability = grid_predictions(model, logic_gate("and")[0], resolution=3)
    assert probability is not None and np.all(probability == 1.0) and np.all(classes == 0)
    both = grid_predictions(lambda P: np.full((len(P), 2), math.inf), [[0, 0], [1, 1]],
                            resolution=3)[3]
    assert both is not None and np.all(both == 0.5)


@pytest.mark.parametrize(("output", "shape"), [(lambda P: np.zeros(5), r"\(5,\)"),
                                               (lambda P: np.zeros((len(P), 1, 2)), r"\(9, 1, 2\)"),
                                               (lambda P: None, "NoneType"),
                                               (lambda P: ["a"] * len(P), "list")])
def test_a_model_output_of_the_wrong_shape_is_named(output: Any, shape: str) -> None:
    with pytest.raises(ValueError, match=rf"one score per point or one per class.*\(9,\) or "
                                         rf"\(9, classes\) for 9 points; got .*{shape}"):
        grid_predictions(output, logic_gate("and")[0], resolution=3)


@dataclass
class Classes:
    """A model that gives its classes itself, whatever they are."""

    value: float

    def predict(self, points: np.ndarray) -> np.ndarray:
        return np.full(len(points), self.value)


@pytest.mark.parametrize("value", [math.nan, 0.7, -1.0])
def test_classes_from_predict_must_be_class_indices(value: float) -> None:
    """nan became -9223372036854775808, 0.7 became 0, and -1 a region off the colour scale."""
    with pytest.raises(ValueError, match=r"Classes.predict: its classes must be class indices"):
        grid_predictions(Classes(value), logic_gate("and")[0], resolution=3)


@pytest.mark.parametrize(("X", "axis"), [([[0.0, 0.0], [1.0, 0.0], [2.0, 0.0]], 1),
                                         ([[3.0, -1.0], [3.0, 4.0]], 0)])
def test_an_axis_where_all_points_sit_at_one_value_gets_a_real_window(X: list[list[float]],
                                                                      axis: int) -> None:
    """It was the value ± 2.5e-10: a sliver the points and the boundary could not be seen in.
    Now it is as wide as the other axis's spread (2 and 5 here), plus the margin."""
    xx, yy, _, _ = grid_predictions(and_model(), X, resolution=3, margin=0.0)
    grid = (xx, yy)[axis]
    other = (xx, yy)[1 - axis]
    assert grid.max() - grid.min() == pytest.approx(other.max() - other.min())
    assert grid.min() < np.asarray(X)[0, axis] < grid.max()


@pytest.mark.parametrize("point", [0.0, 1.0, 1e12, -3e-7])
def test_a_single_point_gets_a_window_of_its_own_size(point: float) -> None:
    xx, yy, _, _ = grid_predictions(and_model(), [[point, point]] * 3, resolution=3)
    width = max(abs(point), 1.0) * 1.5  # its size, and a margin of 0.25 on each side
    assert xx.max() - xx.min() == pytest.approx(width)
    assert yy.max() - yy.min() == pytest.approx(width)
    assert xx.min() < point < xx.max() and yy.min() < point < yy.max()


@pytest.mark.parametrize(("X", "message"), [([[math.nan, 0.0], [1.0, 1.0]], r"point 0 of X is"),
                                            ([[0.0, 0.0], [1.0, -math.inf]], r"point 1 of X is"),
                                            (np.zeros((0, 2)), "X has no points"),
                                            ([[-1e308, 0.0], [1e308, 1.0]], "overflows")])
def test_points_the_grid_cannot_be_built_around_are_refused(X: Any, message: str) -> None:
    """numpy's 'zero-size array to reduction', matplotlib's 'Axis limits cannot be NaN or
    Inf', a RuntimeWarning, and an empty figure left open."""
    with pytest.raises(ValueError, match=message):
        plot_decision_boundary(and_model(), X, [0] * len(X))
    assert plt.get_fignums() == []


def test_a_model_that_raises_leaves_no_figure() -> None:
    def broken(points: np.ndarray) -> np.ndarray:
        raise RuntimeError("broken model")
    with pytest.raises(RuntimeError, match="broken model"):
        plot_decision_boundary(broken, *logic_gate("and"))
    assert plt.get_fignums() == []


@pytest.mark.parametrize(("y", "message"), [([-1, -1, -1, 1], r"got -1 at index 0 in \[-1, -1, "
                                                              r"-1, 1\] of int64; for labels ±1"),
                                            ([0.0, 0.5, 0.5, 1.5], "got 0.5 at index 1"),
                                            (["a", "b", "a", "b"], r"got \['a', 'b', 'a', 'b'\] "
                                                                   r"of <U1 \(to draw labels"),
                                            ([[0, 1], [0, 1]], r"one class per point")])
def test_labels_must_be_class_indices(y: Any, message: str) -> None:
    """Points labelled −1 were not drawn at all (the classes drawn were 0 … max), 0.5 was
    drawn as class 0, and a (2, 2) array passed as 4 labels."""
    with pytest.raises(ValueError, match=rf"plot_decision_boundary: the labels y .*{message}"):
        plot_decision_boundary(and_model(), logic_gate("and")[0], y)
    assert plt.get_fignums() == []


@pytest.mark.parametrize("margin", [-0.5, math.nan, math.inf, "0.1"])
def test_margin_must_be_a_number_at_least_0(margin: Any) -> None:
    """A negative margin turned the axes around; nan made a grid of nan."""
    with pytest.raises(ValueError, match="margin must be a number >= 0"):
        grid_predictions(and_model(), logic_gate("and")[0], margin=margin)


def test_resolution_may_be_a_numpy_integer() -> None:
    xx, *_ = grid_predictions(and_model(), logic_gate("and")[0], resolution=np.int64(3))
    assert xx.shape == (3, 3)


@dataclass
class Curves:
    train_loss: list[float] = field(default_factory=lambda: [1.0, 0.5, 0.25])
    train_accuracy: list[float] = field(default_factory=lambda: [0.5, 0.75, 1.0])
    test_loss: list[float] = field(default_factory=lambda: [1.0, 0.75, 0.5])
    test_accuracy: list[float] = field(default_factory=lambda: [0.5, 0.5, 0.75])


@pytest.mark.parametrize("short", ["train_accuracy", "test_loss", "test_accuracy"])
def test_curves_of_different_lengths_are_named(short: str) -> None:
    history = Curves()
    getattr(history, short).pop()
    with pytest.raises(ValueError, match=rf"one value per epoch .*'{short}': 2"):
        plot_learning_curves(history)
    assert plt.get_fignums() == []


def test_a_loss_of_zero_is_drawn_on_a_linear_scale() -> None:
    """A log scale drops a loss of 0 (a perfect fit rounds to it) without a word."""
    ax_loss, _ = plot_learning_curves(Curves(train_loss=[1.0, 0.5, 0.0]))
    assert ax_loss.get_yscale() == "linear" and "log" not in ax_loss.get_ylabel()
    ax_loss, _ = plot_learning_curves(Curves())
    assert ax_loss.get_yscale() == "log"


def test_the_lowest_test_loss_mark_skips_nan() -> None:
    """np.argmin picks a nan: the mark went to the epoch where training diverged."""
    ax_loss, _ = plot_learning_curves(Curves(test_loss=[math.nan, 0.5, 0.75]))
    marks = [line.get_label() for line in ax_loss.get_lines()]
    assert "lowest test loss (epoch 2)" in marks
    ax_loss, _ = plot_learning_curves(Curves(test_loss=[math.nan] * 3))
    assert not any("lowest" in str(mark) for mark in [x.get_label() for x in ax_loss.lines])


@pytest.mark.parametrize(("matrix", "message"), [([[3, -1], [0, 2]], "got -1 at row 0, column 1"),
                                                 ([[3, 1.5], [0, 2]], "got 1.5"),
                                                 ([[3, 1], [math.nan, 2]], "got nan at row 1"),
                                                 (np.zeros((0, 0)), r"got shape \(0, 0\)"),
                                                 ([["a", "b"], ["c", "d"]], "counts")])
def test_a_confusion_matrix_holds_counts(matrix: Any, message: str) -> None:
    with pytest.raises(ValueError, match=rf"plot_confusion_matrix: .*{message}"):
        plot_confusion_matrix(matrix)
    assert plt.get_fignums() == []


@pytest.mark.parametrize(("images", "shape"), [(np.zeros((2, 0)), None),
                                               (np.zeros((2, 16)), (-4, -4)),
                                               (np.zeros((2, 3, 0)), None)])
def test_images_without_pixels_are_refused(images: np.ndarray, shape: Any) -> None:
    with pytest.raises(ValueError, match="plot_images"):
        plot_images(images, shape=shape)
    assert plt.get_fignums() == []


def test_one_activation_may_be_named_by_a_string() -> None:
    """'relu' was read as the names 'r', 'e', 'l', 'u'."""
    fig = plot_activations("relu")
    assert [ax.get_title() for ax in fig.axes if ax.get_visible()] == ["relu"]


@pytest.mark.parametrize(("keywords", "message"), [({"z_range": (4.0, -4.0)}, "z_range"),
                                                   ({"z_range": (math.nan, 1.0)}, "z_range"),
                                                   ({"points": 1}, "points"),
                                                   ({"points": 0}, "points")])
def test_activation_ranges_that_draw_nothing_are_refused(keywords: dict[str, Any],
                                                         message: str) -> None:
    with pytest.raises(ValueError, match=rf"plot_activations: {message}"):
        plot_activations(["relu"], **keywords)
    assert plt.get_fignums() == []


@pytest.mark.parametrize("output", ["relu", "tanh"])
def test_an_output_that_is_no_logit_is_shaded_by_class_with_its_boundary(output: str) -> None:
    """A relu output is 0 wherever the class is 0, and σ(0) = 0.5 read it as "unsure": the
    whole class-0 region was left white and no boundary line was drawn (the probability
    never went below 0.5). Only a logit or a probability gives a probability now; the
    picture shades each class and outlines where they meet."""
    from matplotlib.contour import ContourSet

    from tinygrad_edu.datasets import make_moons
    from tinygrad_edu.nn import MLP

    X, y = make_moons(60, seed=0)
    model = MLP(2, [8, 1], output_activation=output, seed=1)
    _, _, classes, probability = grid_predictions(model, X, resolution=20)
    assert probability is None and set(np.unique(classes).tolist()) == {0, 1}
    ax = plot_decision_boundary(model, X, y, resolution=20)
    lines = [c for c in ax.collections if isinstance(c, ContourSet) and not c.filled]
    assert lines and any(np.asarray(path.vertices).size for line in lines
                         for path in line.get_paths())
    assert grid_predictions(MLP(2, [8, 1], seed=1), X, resolution=20)[3] is not None
