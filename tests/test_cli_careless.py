"""The command line as a careless user meets it: --version, Ctrl-C, bad options, no matplotlib."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

import tinygrad_edu
from tinygrad_edu import lecture
from tinygrad_edu.cli import main


def test_version_is_printed(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"tinygrad-edu {tinygrad_edu.__version__}"


def test_ctrl_c_exits_130_with_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(lecture, "run_tour", interrupted)
    monkeypatch.setattr(lecture, "decision_boundaries", interrupted)
    for argv in (["demo", "--quick", "--out", str(tmp_path)],
                 ["boundaries", "--quick", "--out", str(tmp_path)]):
        assert main(argv) == 130
        err = capsys.readouterr().err
        assert err.strip().splitlines() == [f"tinygrad-edu {argv[0]}: interrupted (Ctrl-C)"]


@pytest.mark.parametrize("argv", [
    ["boundaries", "--seed", "-1", "--quick"],
    ["perceptron", "--seed", "-3"],
    ["perceptron", "--seed", "-3", "--out", "somewhere"],
])
def test_a_negative_seed_is_named_before_anything_is_printed(
        argv: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert f"--seed must be a non-negative integer; got {argv[2]}" in captured.err
    assert list(tmp_path.iterdir()) == []


def test_set_of_a_name_not_in_the_expression_is_named(capsys: pytest.CaptureFixture[str],
                                                      ) -> None:
    assert main(["graph", "x*y", "--set", "x=1", "y=2", "z=3"]) == 2
    err = capsys.readouterr().err
    assert "--set z: not in the expression (its names: x, y)" in err


@pytest.mark.parametrize("argv, message", [
    (["demo", "--quick", "--out", ""], "--out needs a folder name; got an empty string"),
    (["demo", "--quick", "--out", "/dev/null"], "--out /dev/null: /dev/null is a device"),
    (["activations", "--out", "/dev/null/pictures"], "/dev/null is a device"),
    (["perceptron", "--out", ""], "--out needs a folder name"),
    (["graph", "x*x", "--set", "x=2", "-o", ""], "-o/--output needs a file name"),
    (["graph", "x*x", "--set", "x=2", "-o", "/dev/null"],
     "-o/--output /dev/null: that is a device or special file, not a file to write"),
    (["graph", "x*x", "--set", "x=2", "--html", ""], "--html needs a file name"),
])
def test_unusable_output_paths_are_explained(argv: list[str], message: str, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and message in captured.err
    assert len(captured.err.strip().splitlines()) == 1
    assert list(tmp_path.iterdir()) == []


def test_an_output_that_is_a_folder_is_refused(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["graph", "x*x", "--set", "x=2", "-o", str(tmp_path)]) == 2
    assert "that is a folder, not a file to write" in capsys.readouterr().err


def test_demo_without_matplotlib_runs_the_text_and_says_once_what_it_skipped(
        tmp_path: Path, hide_package: Callable[[str], None],
        capsys: pytest.CaptureFixture[str]) -> None:
    hide_package("matplotlib")  # `import matplotlib` fails
    only = ["perceptron_logic_gates", "xor_mlp", "activations"]
    assert main(["demo", "--quick", "--quiet", "--out", str(tmp_path), "--only", *only]) == 0
    out = capsys.readouterr().out
    assert out.count("final weights get") == 4  # the perceptron on each gate
    assert "XOR   never: XOR is not linearly separable" in out
    assert "tanh MLP" in out and "4/4 right" in out  # the XOR results
    assert "gradcheck" in out  # the activations' table
    assert "example" in out and "accuracy reached" in out  # the summary table
    skipped = [line for line in out.splitlines() if line.startswith("skipped ")]
    assert len(skipped) == 1 and out.count("matplotlib is not installed") == 1
    for name in ("perceptron_gates.png", "sigmoid_neuron.gif", "xor_mlp.png",
                 "activations.png"):
        assert name in skipped[0]
    assert "pip install -e '.[plot]'" in skipped[0]
    assert list(tmp_path.iterdir()) == []


def test_boundaries_without_matplotlib_print_the_grid_and_the_skip(
        tmp_path: Path, hide_package: Callable[[str], None],
        capsys: pytest.CaptureFixture[str]) -> None:
    hide_package("matplotlib")
    argv = ["boundaries", "--quick", "--quiet", "--layers", "0", "1", "--units", "2",
            "--steps", "5", "--out", str(tmp_path)]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "training accuracy on the spiral" in out
    assert "skipped 1 picture (matplotlib is not installed): decision_boundaries.png" in out


@pytest.mark.parametrize("out, message", [
    ("", "xor_mlp: error: --out needs a folder name; got an empty string"),
    ("/dev/null", "xor_mlp: error: --out /dev/null: /dev/null is a device"),
])
def test_example_scripts_explain_unusable_folders(out: str, message: str,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    assert lecture.example_main("xor_mlp", ["--quick", "--out", out]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.startswith(message)


def test_example_scripts_exit_130_on_ctrl_c(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setitem(lecture.EXAMPLES, "xor_mlp", interrupted)
    assert lecture.example_main("xor_mlp", ["--quick", "--out", str(tmp_path)]) == 130
    assert capsys.readouterr().err == "xor_mlp: interrupted (Ctrl-C)\n"
