"""Every example of the lecture runs end to end (quick mode) and writes what it promises.

The examples are run once per module (the `results` fixture) into a temporary folder; each test
then checks one example's files and numbers. The scripts in examples/ are run as programs too.
"""

from __future__ import annotations

import os
import struct
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path
from typing import cast

import matplotlib
import numpy as np
import pytest

from tinygrad_edu import lecture, plots, viz
from tinygrad_edu.data import Array
from tinygrad_edu.datasets import logic_gate, make_moons
from tinygrad_edu.lecture import EXAMPLES, MORE_EXAMPLES, ExampleResult
from tinygrad_edu.nn import MLP, Perceptron
from tinygrad_edu.plots import PlotDependencyError, grid_predictions

matplotlib.use("Agg")

ROOT = Path(__file__).resolve().parent.parent
PNG = b"\x89PNG\r\n\x1a\n"


def png_size(path: Path) -> tuple[int, int]:
    """Width and height from a PNG's IHDR chunk, after checking the signature."""
    data = path.read_bytes()
    assert data.startswith(PNG), f"{path.name} is not a PNG"
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return int(width), int(height)


def check_png(path: Path, min_width: int = 300, min_height: int = 200) -> None:
    width, height = png_size(path)
    assert min_width <= width <= 4000 and min_height <= height <= 4000, (path.name, width, height)
    assert path.stat().st_size > 5_000  # a real picture, not an empty canvas


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, ExampleResult]:
    out = tmp_path_factory.mktemp("tour")
    return {r.name: r for r in lecture.run_tour(out, quick=True)}


def test_the_tour_runs_every_example_in_order(results: dict[str, ExampleResult]) -> None:
    assert list(results) == list(EXAMPLES)
    assert all(r.files and all(p.is_file() for p in r.files) for r in results.values())
    folders = {p.parent for r in results.values() for p in r.files}
    assert len(folders) == 1  # one output folder


def test_value_and_graph(results: dict[str, ExampleResult]) -> None:
    r = results["value_and_graph"]
    svg, page = r.files
    assert svg.name == "neuron_graph.svg" and page.name == "neuron_backprop.html"
    texts = [t.text for t in ET.parse(svg).getroot().iter("{http://www.w3.org/2000/svg}text")]
    assert {"x1", "w1", "b", "o", "tanh", "grad -1.5000", "data 0.7071"} <= set(texts)
    html = page.read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>") and html.count('<section class="frame"') > 5
    assert r.details["grads"] == pytest.approx(
        {"x1": -1.5, "x2": 0.5, "w1": 1.0, "w2": 0.0, "b": 0.5}, abs=1e-6)
    assert "  d o / d x1 = -1.5000" in r.report


def test_activations_figure_and_checks(results: dict[str, ExampleResult]) -> None:
    r = results["activations"]
    (png,) = r.files
    check_png(png, min_width=800)
    assert "identity" not in r.details["checked"]
    assert {"sigmoid", "tanh", "step", "relu", "leaky_relu", "elu", "selu"} <= set(
        r.details["checked"])
    assert sum("ok at" in line for line in r.report) == len(r.details["checked"])


def test_perceptron_gates(results: dict[str, ExampleResult]) -> None:
    r = results["perceptron_logic_gates"]
    histories = r.details["histories"]
    for gate in ("and", "or", "nand"):
        assert histories[gate].converged
        assert r.accuracies[f"perceptron {gate.upper()}"] == 1.0
    assert not histories["xor"].converged and histories["xor"].cycled
    assert r.accuracies["perceptron XOR"] <= 0.75
    xor_line = next(line for line in r.report if line.startswith("XOR"))
    assert "never: XOR is not linearly separable" in xor_line
    assert r.accuracies["sigmoid neuron"] == 1.0
    names = [p.name for p in r.files]
    assert names == ["perceptron_gates.png", "sigmoid_neuron_frames.png", "sigmoid_neuron.gif"]
    check_png(r.files[0], min_width=800)
    check_png(r.files[1], min_width=800)


def test_sigmoid_neuron_gif_is_animated(results: dict[str, ExampleResult]) -> None:
    from PIL import GifImagePlugin, Image

    gif = results["perceptron_logic_gates"].files[2]
    assert gif.read_bytes()[:6] == b"GIF89a"
    with cast(GifImagePlugin.GifImageFile, Image.open(gif)) as image:
        assert image.n_frames >= 4 and image.info.get("loop") == 0
        first = np.asarray(image.convert("RGB"))
        image.seek(image.n_frames - 1)
        last = np.asarray(image.convert("RGB"))
    assert first.shape[0] >= 200 and first.shape[1] >= 200
    assert np.mean(first != last) > 0.01  # the boundary moved


def test_xor_mlp_learns_and_the_linear_one_fails(results: dict[str, ExampleResult]) -> None:
    r = results["xor_mlp"]
    assert r.accuracies["tanh MLP"] == 1.0
    assert r.accuracies["linear MLP"] <= 0.75
    losses = r.details["losses"]
    assert losses["tanh MLP"][-1] < 0.05
    assert losses["linear MLP"][-1] == pytest.approx(np.log(2.0), abs=1e-3)
    check_png(r.files[0], min_width=800)


def test_decision_boundaries_show_capacity_growing(results: dict[str, ExampleResult]) -> None:
    r = results["decision_boundaries"]
    grid = r.details["grid"]
    assert grid.shape == (4, 4)
    assert r.details["layers"] == [0, 1, 2, 3] and r.details["units"] == [2, 4, 8, 16]
    assert np.all(grid[0] < 0.65)  # no hidden layer: a line, near chance on a spiral
    assert np.all(grid[0] == grid[0, 0])  # ... the same linear model in every column
    assert grid[1:, -1].min() >= 0.95  # wide networks fit the spiral
    assert grid[-1].mean() > grid[0].mean() + 0.2
    assert grid[1:, 0].max() < grid[1:, -1].min()  # 2 units < 16 units, at every depth
    assert len(r.accuracies) == 16 and r.accuracies["m=0 n=2"] == grid[0, 0]
    check_png(r.files[0], min_width=800, min_height=800)


def test_micrograd_demo_reaches_100_percent(results: dict[str, ExampleResult]) -> None:
    r = results["micrograd_demo"]
    assert r.accuracies == {"MLP on moons": 1.0}
    assert "training accuracy 100%" in r.report[0]
    check_png(r.files[0], min_width=800)


def test_summary_table_names_every_file_and_accuracy(results: dict[str, ExampleResult]) -> None:
    table = lecture.summary_table(list(results.values()))
    for r in results.values():
        assert r.name in table
        for path in r.files:
            assert path.name in table
    assert "MLP on moons 100%" in table and "perceptron XOR" in table


# --------------------------------------------------------------------------------------------
# Past the lecture: the handwritten digits (not in the tour)
# --------------------------------------------------------------------------------------------

DIGITS_QUICK_LOWER_BOUND = 0.95
"""The held-out accuracy the quick digits run (64 hidden units, 10 epochs, seed 0) must reach;
it reaches 97.3%. The full run (128 units, 30 epochs) reaches 97.6% (README)."""


@pytest.fixture(scope="module")
def digits(tmp_path_factory: pytest.TempPathFactory) -> ExampleResult:
    return lecture.digits_mlp(tmp_path_factory.mktemp("digits"), quick=True)


def test_digits_generalise_to_digits_never_seen(digits: ExampleResult) -> None:
    assert digits.accuracies["test accuracy"] >= DIGITS_QUICK_LOWER_BOUND
    history = digits.details["history"]
    assert history.epochs == 10 and len(history.test_accuracy) == 10
    assert history.train_loss[-1] < history.train_loss[0] / 5  # it learned
    assert history.best_epoch == 10  # not yet overfitting
    assert history.test_loss[-1] > history.train_loss[-1]  # the gap: not seen is harder
    assert digits.accuracies["training accuracy"] == history.train_accuracy[-1]
    matrix = digits.details["confusion"]
    assert matrix.shape == (10, 10) and matrix.sum() == 450
    assert np.trace(matrix) / 450 == pytest.approx(digits.accuracies["test accuracy"])
    assert len(digits.details["wrong"]) == 450 - np.trace(matrix)
    assert repr(digits.details["model"]) == "MLP(64 → 64 relu → 10 identity)"
    assert any(line.startswith("held-out test accuracy") for line in digits.report)
    assert [p.name for p in digits.files] == ["digits_curves.png", "digits_confusion.png",
                                              "digits_mistakes.png"]
    check_png(digits.files[0], min_width=800)
    check_png(digits.files[1], min_width=400, min_height=400)
    check_png(digits.files[2], min_width=400, min_height=150)


def test_digits_is_its_own_example_not_part_of_the_tour() -> None:
    assert "digits_mlp" in MORE_EXAMPLES and "digits_mlp" not in EXAMPLES


def test_a_model_too_large_trained_too_long_overfits(tmp_path: Path) -> None:
    # the default net's test loss still falls at its last epoch (see the run above); a larger
    # one trained longer fits the training digits ever better while its test loss turns up
    big = lecture.digits_mlp(tmp_path, quick=True, hidden=[128, 128], epochs=40, lr=3e-3)
    history = big.details["history"]
    assert history.best_epoch < 20
    assert history.test_loss[-1] > 1.2 * min(history.test_loss)
    assert history.train_loss[-1] < 0.01 * history.test_loss[-1]


def test_digits_script_runs_as_a_program(tmp_path: Path) -> None:
    env = {**os.environ, "MPLBACKEND": "Agg", "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "digits_mlp.py"), "--out", str(tmp_path),
         "--quick"], capture_output=True, text=True, timeout=120, env=env, check=False)
    assert result.returncode == 0, result.stderr
    assert "held-out test accuracy" in result.stdout and result.stderr == ""
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "digits_confusion.png", "digits_curves.png", "digits_mistakes.png"]


@pytest.mark.parametrize("name", [*EXAMPLES, *MORE_EXAMPLES])
def test_example_scripts_are_thin_and_named_like_the_table(name: str) -> None:
    script = ROOT / "examples" / f"{name}.py"
    text = script.read_text(encoding="utf-8")
    assert f'example_main("{name}")' in text
    assert len(text.splitlines()) < 20


def test_example_script_runs_as_a_program(tmp_path: Path) -> None:
    env = {**os.environ, "MPLBACKEND": "Agg"}
    result = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "xor_mlp.py"), "--out", str(tmp_path),
         "--quick"], capture_output=True, text=True, timeout=120, env=env, check=False)
    assert result.returncode == 0, result.stderr
    assert "tanh MLP" in result.stdout and f"wrote {tmp_path / 'xor_mlp.png'}" in result.stdout
    assert result.stderr == ""  # no progress bar when stderr is not a terminal
    assert [p.name for p in tmp_path.iterdir()] == ["xor_mlp.png"]


def test_example_script_help_and_bad_usage(tmp_path: Path) -> None:
    script = str(ROOT / "examples" / "micrograd_demo.py")
    shown = subprocess.run([sys.executable, script, "--help"], capture_output=True, text=True,
                           timeout=60, check=False)
    assert shown.returncode == 0 and "--quick" in shown.stdout and "--out" in shown.stdout
    bad = subprocess.run([sys.executable, script, "--bogus"], capture_output=True, text=True,
                         timeout=60, check=False)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr


# --------------------------------------------------------------------------------------------
# The plotting functions
# --------------------------------------------------------------------------------------------


def test_plot_decision_boundary_without_axes_uses_pyplot() -> None:
    import matplotlib.pyplot as plt

    X, y = make_moons(40, seed=1)
    ax = viz.plot_decision_boundary(MLP(2, [4, 1], seed=0), X, y, title="untrained")
    try:
        assert ax.get_title() == "untrained"
        assert ax.get_xlabel() == "x₁" and ax.get_ylabel() == "x₂"
        assert [c.get_label() for c in ax.collections if c.get_label().startswith("class")] \
            == ["class 0", "class 1"]
    finally:
        plt.close("all")


def test_grid_predictions_for_each_kind_of_model() -> None:
    X, _ = logic_gate("and")
    p = Perceptron(2, zeros=True)
    p.weights = [-1.5, 1.0, 1.0]
    _, _, classes, probability = grid_predictions(p, X, resolution=5)
    assert probability is None and classes[0, 0] == 0 and classes[-1, -1] == 1
    three = MLP(2, [3], seed=0)  # three outputs: the argmax, softmax probabilities
    _, _, classes, probability = grid_predictions(three, X, resolution=4)
    assert classes.max() <= 2 and probability is not None
    assert np.all((probability >= 1 / 3 - 1e-12) & (probability <= 1.0))
    _, _, classes, probability = grid_predictions(lambda pts: pts[:, 0] - 0.5, X, resolution=3)
    assert classes.tolist() == [[0, 0, 1]] * 3 and probability is not None
    with pytest.raises(ValueError, match="2 input features"):
        grid_predictions(p, np.zeros((3, 3)))


def test_plot_activations_draws_function_and_derivative() -> None:
    from matplotlib.figure import Figure

    fig = viz.plot_activations(["relu", "tanh"], Figure())
    axes = [ax for ax in fig.axes if ax.get_visible()]
    assert [ax.get_title() for ax in axes] == ["relu", "tanh"]
    relu_lines = axes[0].get_lines()
    slope = next(line for line in relu_lines if line.get_label().startswith("f′"))
    z, d = slope.get_data()
    assert np.all(d[np.asarray(z) < 0] == 0.0) and np.all(d[np.asarray(z) > 0] == 1.0)
    with pytest.raises(ValueError, match="unknown activation"):
        viz.plot_activations(["nope"], Figure())


def test_activation_plots_take_names_as_get_activation_does() -> None:
    from matplotlib.figure import Figure

    from tinygrad_edu.plots import activation_curves, plot_activations

    fig = plot_activations(["swish", "Heaviside"], Figure())
    assert [ax.get_title() for ax in fig.axes if ax.get_visible()] == ["silu", "step"]
    values, slopes = activation_curves("linear", np.array([-1.0, 2.0]))
    assert values.tolist() == [-1.0, 2.0] and slopes.tolist() == [1.0, 1.0]


def test_missing_matplotlib_names_the_extra(hide_package: Callable[[str], None]) -> None:
    hide_package("matplotlib")  # makes `import matplotlib` fail
    X, y = logic_gate("or")
    with pytest.raises(PlotDependencyError, match=r"pip install -e .\.\[plot\]."):
        viz.plot_decision_boundary(Perceptron(2, zeros=True), X, y)
    with pytest.raises(ImportError, match=r"\.\[plot\]"):
        viz.plot_activations()


def test_viz_imports_without_matplotlib(tmp_path: Path) -> None:
    code = ("import sys; sys.modules['matplotlib'] = None\n"
            "import tinygrad_edu.viz, tinygrad_edu.lecture, tinygrad_edu.cli\n"
            "print('ok')")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=60, check=False, cwd=tmp_path)
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr


def test_unknown_examples_and_bad_grids_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown example"):
        lecture.run_tour(tmp_path, only=["nope"])
    with pytest.raises(ValueError, match="layers must be"):
        lecture.decision_boundaries(tmp_path, layers=[-1])
    with pytest.raises(ValueError, match="unknown activation"):
        lecture.activation_functions(tmp_path, names=["nope"])
    assert list(tmp_path.iterdir()) == []


def test_a_sigmoid_output_is_thresholded_at_one_half() -> None:
    from tinygrad_edu.lecture import accuracy
    from tinygrad_edu.nn import MLP
    from tinygrad_edu.plots import grid_predictions

    X = np.array([[0.0, 0.0], [1.0, 1.0]])
    y = np.array([0, 1])
    model = MLP(2, [1], activation="identity", output_activation="sigmoid", seed=0)
    # outputs σ(-4) ≈ 0.02 and σ(4) ≈ 0.98: both positive
    cast(Array, model.layers[0].W.data)[:] = [[4.0], [4.0]]
    cast(Array, model.layers[0].b.data)[:] = [-4.0]
    assert accuracy(model, X, y) == 1.0
    _, _, classes, probability = grid_predictions(model, X, resolution=3)
    assert set(np.unique(classes)) == {0, 1} and probability is not None


def test_plot_learning_curves_draws_both_parts_and_the_best_epoch() -> None:
    from matplotlib.figure import Figure

    from tinygrad_edu.training import History

    history = History([1.0, 0.5, 0.2], [0.6, 0.8, 0.9], [1.1, 0.7, 0.8], [0.5, 0.7, 0.7])
    ax_loss, ax_acc = plots.plot_learning_curves(history, Figure().subplots(1, 2))
    lines = {line.get_label(): line for line in ax_loss.get_lines()}
    assert list(lines["test loss"].get_ydata()) == [1.1, 0.7, 0.8]
    assert list(lines["training loss"].get_xdata()) == [1, 2, 3]
    assert list(lines["lowest test loss (epoch 2)"].get_xdata()) == [2, 2]
    assert ax_loss.get_yscale() == "log"
    accuracy_lines = {line.get_label(): line for line in ax_acc.get_lines()}
    assert list(accuracy_lines["training accuracy"].get_ydata()) == [0.6, 0.8, 0.9]
    with pytest.raises(ValueError, match="no epoch"):
        plots.plot_learning_curves(History(), Figure().subplots(1, 2))
    with pytest.raises(TypeError, match=r"history must be a training.History .*; got a dict "
                                        r"without train_loss, train_accuracy, test_loss, "
                                        r"test_accuracy$"):
        plots.plot_learning_curves({"loss": [1.0]}, Figure().subplots(1, 2))  # type: ignore[arg-type]


def test_plot_confusion_matrix_writes_the_counts() -> None:
    from matplotlib.figure import Figure

    ax = plots.plot_confusion_matrix(np.array([[5, 1], [0, 3]]), Figure().subplots(),
                                   labels=["cat", "dog"])
    assert sorted(t.get_text() for t in ax.texts) == ["1", "3", "5"]  # zeros left blank
    assert [t.get_text() for t in ax.get_xticklabels()] == ["cat", "dog"]
    assert ax.get_xlabel() == "predicted class" and ax.get_ylabel() == "true class"
    with pytest.raises(ValueError, match="must be square"):
        plots.plot_confusion_matrix(np.zeros((2, 3)), Figure().subplots())
    with pytest.raises(ValueError, match="2 classes but 3 labels"):
        plots.plot_confusion_matrix(np.eye(2), Figure().subplots(), labels=["a", "b", "c"])


def test_plot_images_shows_each_image_with_its_title() -> None:
    from matplotlib.figure import Figure

    images = np.arange(3 * 64, dtype=float).reshape(3, 64)
    fig = plots.plot_images(images, Figure(), titles=["a", "b", "c"], columns=2)
    shown = [ax for ax in fig.axes if ax.images]
    assert [ax.get_title() for ax in shown] == ["a", "b", "c"]
    assert shown[1].images[0].get_array().shape == (8, 8)
    np.testing.assert_array_equal(shown[2].images[0].get_array(), images[2].reshape(8, 8))
    assert len(fig.axes) == 4  # a 2 x 2 grid, the last one empty
    empty = plots.plot_images(np.zeros((0, 64)), Figure())
    assert [t.get_text() for ax in empty.axes for t in ax.texts] == ["no image to show"]
    with pytest.raises(ValueError, match="rows of 60 pixels are not 7x8 images"):
        plots.plot_images(np.zeros((2, 60)), Figure())
    with pytest.raises(ValueError, match="2 images but 1 titles"):
        plots.plot_images(np.zeros((2, 4, 4)), Figure(), titles=["x"])
