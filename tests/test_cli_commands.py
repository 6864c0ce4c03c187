"""The lecture's subcommands of `tinygrad-edu`: demo, perceptron, boundaries, activations;
and digits, past the lecture."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np
import pytest

from tinygrad_edu import cli, lecture, training
from tinygrad_edu.cli import COMMANDS, main
from tinygrad_edu.plots import PLOT_INSTALL_HINT

matplotlib.use("Agg")

LECTURE_COMMANDS = ["demo", "perceptron", "boundaries", "activations", "digits"]


def test_every_subcommand_is_in_the_table() -> None:
    assert {"demo", "graph", "perceptron", "boundaries", "activations", "digits"} == {
        c.name for c in COMMANDS}


@pytest.mark.parametrize("command", [c.name for c in COMMANDS])
def test_help_of_each_subcommand(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([command, "--help"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: tinygrad-edu {command}")
    if command in LECTURE_COMMANDS:
        assert "--out" in out and ("--quiet" in out)


@pytest.mark.parametrize("argv", [
    ["demo", "--only", "nope"],
    ["demo", "--bogus"],
    ["perceptron", "--gate", "xnor"],
    ["perceptron", "--max-epochs", "0"],
    ["perceptron", "--lr", "-1"],
    ["perceptron", "--lr", "nan"],
    ["boundaries", "--layers", "9"],
    ["boundaries", "--units", "0"],
    ["boundaries", "--steps", "many"],
    ["activations", "--names", "cosh"],
    ["digits", "--epochs", "0"],
    ["digits", "--hidden", "0"],
    ["digits", "--lr", "0"],
    ["digits", "--lr", "inf"],
    ["digits", "--lr", "fast"],
    ["digits", "--batch-size", "0"],
    ["digits", "--seed", "-1"],
])
def test_bad_usage_exits_2_without_traceback(argv: list[str], tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*argv, "--out", str(tmp_path)] if argv[0] != "perceptron" else argv) == 2
    err = capsys.readouterr().err
    assert "error:" in err and "Traceback" not in err
    assert list(tmp_path.iterdir()) == []


def test_demo_runs_the_tour_and_prints_the_summary(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "tour"
    assert main(["demo", "--quick", "--out", str(out)]) == 0
    captured = capsys.readouterr()
    assert captured.err == ""  # stderr is not a terminal here: no progress bars
    text = captured.out
    table = text[text.index("The lecture tour: 6 examples"):]
    for name in lecture.EXAMPLES:
        assert name in table
    expected = {"neuron_graph.svg", "neuron_backprop.html", "activations.png",
                "perceptron_gates.png", "sigmoid_neuron_frames.png", "sigmoid_neuron.gif",
                "xor_mlp.png", "decision_boundaries.png", "micrograd_moons.png"}
    assert {p.name for p in out.iterdir()} == expected
    for name in expected:
        assert name in table
    assert "MLP on moons 100%" in table and "tanh MLP 100%" in table
    assert "never: XOR is not linearly separable" in text


def test_perceptron_prints_epochs_and_xor_never_converges(
        capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["perceptron", "--zeros"]) == 0
    out = capsys.readouterr().out
    # the AND run of the nn.Perceptron doctest: from zero weights, 6 epochs, 1 3 3 2 1 0 errors
    and_part = out[out.index("AND "):out.index("OR ")]
    assert [line.split()[1] for line in and_part.splitlines()[2:8]] == \
        ["1", "3", "3", "2", "1", "0"]
    assert "AND   converged after 6 epochs" in and_part
    assert "XOR   never: XOR is not linearly separable" in out
    assert out.count("converged after") == 3


def test_perceptron_with_out_writes_the_pictures(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["perceptron", "--gate", "or", "--out", str(tmp_path), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "OR    converged" in out and "XOR" not in out
    assert (tmp_path / "perceptron_gates.png").read_bytes()[:4] == b"\x89PNG"
    assert (tmp_path / "sigmoid_neuron.gif").read_bytes()[:6] == b"GIF89a"


def test_perceptron_pictures_draw_the_runs_printed(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    # the pictures were drawn with lr 1, 100 epochs and all four gates, whatever was asked
    runs: list[lecture.ExampleResult] = []
    original = lecture.perceptron_logic_gates

    def recorded(*args: Any, **kwargs: Any) -> lecture.ExampleResult:
        runs.append(original(*args, **kwargs))
        return runs[-1]

    monkeypatch.setattr(lecture, "perceptron_logic_gates", recorded)
    assert main(["perceptron", "--gate", "and", "--lr", "0.001", "--max-epochs", "1", "--zeros",
                 "--out", str(tmp_path), "--quiet"]) == 0
    histories = runs[0].details["histories"]
    assert list(histories) == ["and"]
    assert histories["and"].epochs == 1 and not histories["and"].converged
    assert np.all(histories["and"].initial_weights == 0.0)


def test_boundaries_with_a_small_grid(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["boundaries", "--quick", "--layers", "0", "2", "--units", "16",
                 "--steps", "300", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "m \\ n      16" in out and "300 Adam steps" in out
    rows = [line.split() for line in out.splitlines() if line.strip()[:1] in ("0", "2")]
    assert [row[0] for row in rows] == ["0", "2"]
    linear, deep = (float(row[1].rstrip("%")) for row in rows)
    assert linear < 65 and deep > 90
    assert (tmp_path / "decision_boundaries.png").read_bytes()[:4] == b"\x89PNG"


def test_activations_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["activations", "--names", "relu", "selu", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "relu" in out and "selu" in out and "sigmoid" not in out
    assert out.count("ok at") == 2
    assert (tmp_path / "activations.png").read_bytes()[:4] == b"\x89PNG"


def test_digits_command_trains_and_tests(tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["digits", "--epochs", "4", "--hidden", "32", "--batch-size", "64", "--lr",
                 "0.003", "--seed", "1", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "MLP(64 → 32 relu → 10 identity)" in out
    assert "Adam (lr 0.003), batches of 64, 4 epochs" in out
    epochs = [line.split()[0] for line in out.splitlines() if line[:5].strip().isdigit()]
    assert epochs == ["1", "2", "3", "4"]
    accuracy_line = next(line for line in out.splitlines() if line.startswith("held-out"))
    assert float(accuracy_line.split()[3].rstrip("%")) > 85.0
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "digits_confusion.png", "digits_curves.png", "digits_mistakes.png"]


def test_digits_without_scikit_learn_says_which_extra(
        tmp_path: Path, hide_package: Callable[[str], None],
        capsys: pytest.CaptureFixture[str]) -> None:
    hide_package("sklearn")
    assert main(["digits", "--quick", "--out", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("tinygrad-edu digits: error: load_digits reads the digits bundled "
                          "with scikit-learn") and ".[data]" in err and "Traceback" not in err


def test_progress_bars_follow_quiet_and_the_terminal(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[bool] = []

    def fake_bar(total: int, description: str, enabled: bool) -> Any:
        seen.append(enabled)
        return training.NoProgressBar()

    monkeypatch.setattr(lecture, "progress_bar", fake_bar)
    argv = ["boundaries", "--quick", "--layers", "1", "--units", "2", "--steps", "5",
            "--out", str(tmp_path)]
    assert main(argv) == 0  # stderr captured by pytest: not a terminal
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    assert main(argv) == 0
    assert main([*argv, "--quiet"]) == 0
    assert seen == [False, True, False]


def test_progress_bar_is_tqdm_when_enabled() -> None:
    from tqdm import tqdm

    bar = lecture.progress_bar(10, "x", enabled=True)
    try:
        assert isinstance(bar, tqdm) and bar.total == 10
    finally:
        bar.close()
    assert isinstance(lecture.progress_bar(10, "x", enabled=False), training.NoProgressBar)


def test_missing_matplotlib_skips_the_picture_in_one_line(
        tmp_path: Path, hide_package: Callable[[str], None],
        capsys: pytest.CaptureFixture[str]) -> None:
    # without the plot extra the numerical checks still run; one line says what was skipped
    hide_package("matplotlib")
    assert main(["activations", "--out", str(tmp_path)]) == 0
    captured = capsys.readouterr()
    assert "gradcheck" in captured.out and captured.err == ""
    skipped = [line for line in captured.out.splitlines() if "pip install" in line]
    assert skipped == ["skipped 1 picture (matplotlib is not installed): activations.png; "
                       "to draw it: " + PLOT_INSTALL_HINT]
    assert list(tmp_path.iterdir()) == []


def test_console_script_and_python_dash_m_list_the_commands() -> None:
    result = subprocess.run([sys.executable, "-m", "tinygrad_edu", "--help"],
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0
    for name in ("demo", "graph", "perceptron", "boundaries", "activations", "digits"):
        assert name in result.stdout
    assert cli.PROG == "tinygrad-edu"
