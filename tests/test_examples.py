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
from pathlib import Path

import matplotlib
import numpy as np
import pytest

from tinygrad_edu import lecture, viz
from tinygrad_edu.datasets import logic_gate, make_moons
from tinygrad_edu.lecture import EXAMPLES, ExampleResult
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
    from PIL import Image

    gif = results["perceptron_logic_gates"].files[2]
    assert gif.read_bytes()[:6] == b"GIF89a"
    with Image.open(gif) as image:
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


@pytest.mark.parametrize("name", list(EXAMPLES))
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


def test_missing_matplotlib_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # makes `import matplotlib` fail
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
    model.layers[0].W.data[:] = [[4.0], [4.0]]
    model.layers[0].b.data[:] = [-4.0]  # outputs σ(-4) ≈ 0.02 and σ(4) ≈ 0.98: both positive
    assert accuracy(model, X, y) == 1.0
    _, _, classes, probability = grid_predictions(model, X, resolution=3)
    assert set(np.unique(classes)) == {0, 1} and probability is not None
