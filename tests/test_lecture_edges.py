"""The lecture's examples at their edges: every number they print is computed, every caption
is true of what the run did, they leave numpy's global random state alone, and bad arguments
are refused in words before anything is written.

Most tests hide matplotlib (`hide_package`), so the examples print their text without drawing:
that keeps this file fast.
"""

from __future__ import annotations

import contextlib
import io
import itertools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from tinygrad_edu import Value, lecture
from tinygrad_edu.datasets import logic_gate, make_moons
from tinygrad_edu.losses import hinge_loss
from tinygrad_edu.nn import MLP
from tinygrad_edu.training import accuracy

Hide = Callable[[str], None]

CORNERS = logic_gate("xor")[0]
XOR, XNOR = [0, 1, 1, 0], [1, 0, 0, 1]


# ---- Rosenblatt's perceptron: the Minsky line is computed, the global random state is kept ---


@given(st.sampled_from(list(itertools.product((0, 1), repeat=4))))
@settings(max_examples=16, deadline=None)
def test_a_line_draws_14_labellings_of_the_corners_and_never_xor(labels: tuple[int, ...]) -> None:
    drawn, best = lecture._labellings_a_line_draws(CORNERS, np.array(labels))
    assert drawn == 14  # all 16 but XOR and XNOR
    assert best == (3 if list(labels) in (XOR, XNOR) else 4)


def test_the_xor_claim_is_the_computed_one(tmp_path: Path, hide_package: Hide) -> None:
    hide_package("matplotlib")
    report = lecture.perceptron_logic_gates(tmp_path, quick=True).report
    line = next(line for line in report if "Minsky" in line)
    assert "of the 16 ways to label the 4 corners, a line draws 14" in line
    assert "the closest to XOR gets 3 of its 4 right" in line


@pytest.mark.filterwarnings("ignore:No artists with labels")
def test_drawing_the_sigmoid_neuron_leaves_numpy_global_random_state_alone(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # the pictures themselves are not what this test is about: draw nothing, quickly
    monkeypatch.setattr(lecture, "plot_decision_boundary", lambda *args, **kwargs: None)
    monkeypatch.setattr(lecture, "_write_gif", lambda frames, path: path)
    np.random.seed(1234)
    first_draw = np.random.random()
    np.random.seed(1234)
    lecture.perceptron_logic_gates(tmp_path, quick=True)
    assert np.random.random() == first_draw, \
        "the example drew from numpy's global random state (a Neuron made without a seed)"


# ---- micrograd's demo: loss and accuracy curves of the same weights ----------------------------


def test_micrograd_curves_are_of_the_same_steps(tmp_path: Path, hide_package: Hide) -> None:
    hide_package("matplotlib")
    result = lecture.micrograd_demo(tmp_path, quick=True)
    losses, accuracies = result.details["losses"], result.details["accuracies"]
    assert len(losses) == len(accuracies) == 101  # before each of 100 steps, and after the last
    X, y = make_moons(100, noise=0.1, seed=0)
    untrained = MLP(2, [16, 16, 1], seed=0)
    assert accuracies[0] == accuracy(untrained, X, y)  # step 0: nothing learned yet
    l2 = 1e-4 * sum(((p * p).sum() for p in untrained.parameters()), Value(0.0))
    assert losses[0] == pytest.approx(float((hinge_loss(untrained(X), 2.0 * y - 1.0) + l2).data))
    model = result.details["model"]
    assert accuracies[-1] == accuracy(model, X, y) == result.accuracies["MLP on moons"]
    l2 = 1e-4 * sum(((p * p).sum() for p in model.parameters()), Value(0.0))
    assert losses[-1] == pytest.approx(float((hinge_loss(model(X), 2.0 * y - 1.0) + l2).data))
    assert f"{losses[-1]:.4f}, training accuracy 100%" in result.report[0]


# ---- activations: the lecture's requirements, shown for the names asked ------------------------


def test_activations_say_which_are_monotone(tmp_path: Path, hide_package: Hide) -> None:
    hide_package("matplotlib")
    report = lecture.activation_functions(tmp_path, quick=True).report
    column = {line.split()[0]: line.split()[4] for line in report[1:] if "ok at" in line}
    assert column == {"sigmoid": "yes", "tanh": "yes", "step": "yes", "relu": "yes",
                      "leaky_relu": "yes", "elu": "yes", "selu": "yes", "softplus": "yes",
                      "silu": "no", "gelu": "no"}
    assert "not monotone (f falls somewhere in [-5, 5]): silu, gelu." in report
    assert any(line.startswith("step: backward() gives 0 at every one of the 7 points")
               for line in report)


def test_activations_claim_nothing_of_a_function_not_shown(tmp_path: Path,
                                                           hide_package: Hide) -> None:
    hide_package("matplotlib")
    report = lecture.activation_functions(tmp_path, quick=True, names=["tanh", "sigmoid"]).report
    text = "\n".join(report)
    assert "step" not in text and "kink" not in text and "not monotone" not in text
    assert len(report) == 3


def test_activations_take_one_name_as_a_string(tmp_path: Path, hide_package: Hide) -> None:
    hide_package("matplotlib")
    result = lecture.activation_functions(tmp_path, quick=True, names="relu")
    assert result.details["checked"] == ["relu"]


# ---- the XOR picture's caption says what the picture shows ------------------------------------


@pytest.mark.filterwarnings("ignore:No artists with labels")
def test_the_linear_xor_caption_is_true_everywhere_in_the_picture(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tinygrad_edu.plots import grid_predictions

    captions: list[str] = []
    linear: list[Any] = []

    def save(fig: Any, path: Path, dpi: int = 100) -> Path:
        captions.extend(text.get_text() for ax in fig.axes for text in ax.texts)
        return path

    def few_steps(model: Any, X: Any, y: Any, **kwargs: Any) -> list[float]:
        linear.append(model)  # a few steps: the linear MLP is not yet constant
        return train_binary(model, X, y, **{**kwargs, "steps": 3})

    train_binary = lecture.train_binary
    monkeypatch.setattr(lecture, "train_binary", few_steps)
    monkeypatch.setattr(lecture, "plot_decision_boundary", lambda *args, **kwargs: None)
    monkeypatch.setattr(lecture, "_save", save)
    lecture.xor_mlp(tmp_path, quick=True)
    (caption,) = captions
    X, _ = logic_gate("xor")
    probability = grid_predictions(linear[1], X, resolution=20, margin=0.35)[3]
    assert probability is not None
    low, high = f"{probability.min():.2f}", f"{probability.max():.2f}"
    assert low != high
    assert caption.startswith(f"σ(output) from {low} to {high}:"), caption


# ---- the digits: every most frequent mistake, when several tie ---------------------------------


@given(arrays(np.int64, (10, 10), elements=st.integers(0, 3)))
@settings(max_examples=40, deadline=None)
def test_the_most_frequent_mistakes_are_all_named(matrix: np.ndarray[Any, Any]) -> None:
    off = matrix - np.diag(np.diag(matrix))
    if not off.any():
        return
    line = lecture._most_frequent_mistakes(matrix)
    pairs = np.argwhere(off == off.max())
    named = [f"{'an' if t == 8 else 'a'} {t} taken for {'an' if p == 8 else 'a'} {p}"
             for t, p in pairs]
    assert all(name in line for name in named[:3])
    assert line.count(" taken for ") == min(len(pairs), 3)
    if len(pairs) > 3:
        assert line.endswith(f" and {len(pairs) - 3} more")
    assert ("each" in line) == (len(pairs) > 1)


def test_a_tie_of_mistakes_names_both() -> None:
    matrix = np.diag([40, 40, 40, 40, 40, 40, 40, 40, 40, 40])
    matrix[3, 2] = matrix[8, 1] = 2
    matrix[5, 6] = 1
    assert lecture._most_frequent_mistakes(matrix) == (
        "most frequent mistakes, 2 times each: a 3 taken for a 2, an 8 taken for a 1")
    matrix[3, 2] = 3
    assert lecture._most_frequent_mistakes(matrix) == (
        "most frequent mistake: a 3 taken for a 2 (3 times)")


# ---- decision boundaries: bad grids refused in words, before a folder is made ------------------


@pytest.mark.parametrize("kwargs, words", [
    ({"layers": [1.5]}, r"layers must be a list of integers >= 0, at least one; got \[1.5\]"),
    ({"layers": 3}, r"layers must be a list of integers >= 0, at least one; got 3"),
    ({"layers": []}, r"layers must be .*; got \[\]"),
    ({"units": "4"}, r"units must be a list of integers >= 1, at least one; got '4'"),
    ({"units": [True]}, r"units must be .*; got \[True\]"),
    ({"units": [0]}, r"units must be .*; got \[0\]"),
    ({"steps": 1.5}, r"steps must be an integer >= 1; got 1.5"),
    ({"steps": True}, r"steps must be an integer >= 1; got True"),
])
def test_a_bad_grid_is_refused_before_anything_is_written(tmp_path: Path, kwargs: dict[str, Any],
                                                          words: str) -> None:
    out = tmp_path / "pictures"
    with pytest.raises(ValueError, match=f"^decision_boundaries: {words}$"):
        lecture.decision_boundaries(out, quick=True, **kwargs)
    assert not out.exists()


def test_a_grid_of_numpy_integers_runs(tmp_path: Path, hide_package: Hide) -> None:
    hide_package("matplotlib")
    result = lecture.decision_boundaries(tmp_path, quick=True, layers=np.array([0]),  # type: ignore[arg-type]
                                         units=(np.int64(2),),  # type: ignore[arg-type]
                                         steps=np.int64(2))  # type: ignore[arg-type]
    assert result.details["layers"] == [0] and result.details["units"] == [2]


# ---- the neuron, and the tour by one name -------------------------------------------------------


def test_the_tour_takes_one_name_and_the_neuron_is_an_nn_neuron(tmp_path: Path) -> None:
    (result,) = lecture.run_tour(tmp_path, quick=True, only="value_and_graph")
    neuron = result.details["neuron"]
    grads = result.details["grads"]
    assert neuron.weights.grad.tolist() == pytest.approx([grads["w1"], grads["w2"]])
    assert neuron.bias.grad == pytest.approx(grads["b"])
    assert any(line.startswith("the same neuron as nn.Neuron(2, activation='tanh')")
               for line in result.report)


def test_the_tour_without_graphviz_prints_every_result_and_names_the_graphs_it_skipped(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without `dot` the whole tour stopped at its first example, before printing anything
    (matplotlib missing was skipped picture by picture)."""
    from tinygrad_edu import viz

    def no_dot(*args: Any, **kwargs: Any) -> Any:
        raise viz.GraphvizNotFoundError()

    monkeypatch.setattr(viz, "save_graph", no_dot)
    result = lecture.value_and_graph(tmp_path)
    assert result.skipped_graphs == ["neuron_graph.svg", "neuron_backprop.html"]
    assert any("d o / d w1 = +1.0000" in line for line in result.report)
    said = lecture.skipped_pictures([result])
    assert said.startswith("skipped 2 pictures (Graphviz's dot program is not installed): "
                           "neuron_graph.svg, neuron_backprop.html; to draw them: install "
                           "Graphviz: ")


def test_the_perceptron_on_xor_says_what_a_line_can_do_wherever_it_is_run() -> None:
    """The lecture's point, "no better than 3 of 4", was in the tour's report only: the
    perceptron command printed "final weights get 1/4 right" and nothing more."""
    from tinygrad_edu.cli import main

    with contextlib.redirect_stdout(io.StringIO()) as out:
        assert main(["perceptron", "--gate", "xor"]) == 0
    assert "the closest to XOR gets 3 of its 4 right" in out.getvalue()
