"""Edge cases of `tinygrad-edu graph`: what it prints and writes for unusual names, numbers and
paths."""

from __future__ import annotations

import inspect
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tinygrad_edu import Value
from tinygrad_edu.cli import main
from tinygrad_edu.viz import MAX_STEPS, backprop_html, backprop_steps, count_steps


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """`main(argv)`, with what it printed on stdout and stderr."""
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_a_fullwidth_name_is_set_as_python_reads_it(tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    """(Python reads the expression's ｘ as x; --set ｘ=3 was refused: 'unset name: x'.)"""
    code, out, err = run(capsys, "graph", "ｘ*2", "--set", "ｘ=3", "-o", str(tmp_path / "g.dot"))
    assert (code, err) == (0, "")
    assert "ｘ*2 = 6" in out and "d out / d x = 2" in out


@pytest.mark.parametrize("expression, printed", [
    ("x*-0", "0"),  # (printed -0: Python's -0 is the integer 0)
    ("x + (9007199254740993 - 9007199254740992)", "4"),  # (printed 3)
    ("x * (10**400 - 10**400 + 1)", "3"),  # (printed nan)
])
def test_constants_are_computed_as_python_computes_them(
        expression: str, printed: str, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "graph", expression, "--set", "x=3", "-o",
                         str(tmp_path / "g.dot"))
    assert code == 0, err
    assert out.startswith(f"{expression} = {printed}\n"), out


def test_a_variable_named_out_keeps_its_name_apart_from_the_result(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """(The result was labelled out too: two boxes 'out', and 'd out / d out = 2'.)"""
    dot = tmp_path / "g.dot"
    code, out, _ = run(capsys, "graph", "out*2 + out_", "--set", "out=3", "out_=1", "-o",
                       str(dot))
    assert code == 0
    assert "d out__ / d out = 2" in out and "d out__ / d out_ = 1" in out
    source = dot.read_text(encoding="utf-8")
    assert [source.count(f"<B>{name}</B>") for name in ("out", "out_", "out__")] == [1, 1, 1]


def test_the_gradient_of_a_bare_variable_is_named_after_it(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """(It printed 'd out / d x', though the picture has no out: the result is x itself.)"""
    code, out, _ = run(capsys, "graph", "x", "--set", "x=3", "-o", str(tmp_path / "g.dot"))
    assert code == 0 and "d x / d x = 1" in out


@pytest.mark.parametrize("value, message", [
    ("1e400", "--set x=1e400: too large for a float64"),  # (was read as inf)
    ("1e-400", "--set x=1e-400: too small for a float64"),  # (was read as 0)
])
def test_a_set_value_past_float64_is_refused(value: str, message: str,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "graph", "log(x)", "--set", f"x={value}")
    assert (code, out) == (2, "")
    assert err.startswith("tinygrad-edu graph: error: ") and message in err
    assert len(err.splitlines()) == 1


def test_set_takes_python_number_literals(tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    """(--set x=0x10 was 'must be a number', though the expression takes 0x10.)"""
    code, out, err = run(capsys, "graph", "x*w", "--set", "x=0x10", "w=-0.0", "-o",
                         str(tmp_path / "g.dot"))
    assert code == 0, err
    x, w = Value(16.0), Value(-0.0)
    (x * w).backward()
    assert "x*w = -0\n" in out
    assert f"d out / d x = {x.grad:.6g}\n" in out and f"d out / d w = {w.grad:.6g}\n" in out


def test_files_go_exactly_where_asked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    """Relative paths from the current folder, the suffix's case kept, nothing beside them."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "sub").mkdir()
    code, out, err = run(capsys, "graph", "tanh(x)", "--set", "x=1", "-o", "sub/G.SVG",
                         "--html", "sub/steps.HTM")
    assert code == 0, err
    assert sorted(p.name for p in (tmp_path / "sub").iterdir()) == ["G.SVG", "steps.HTM"]
    assert [p.name for p in tmp_path.iterdir()] == ["sub"]
    assert (tmp_path / "sub" / "G.SVG").read_text(encoding="utf-8").startswith("<?xml")
    assert "wrote sub/G.SVG\nwrote sub/steps.HTM\n" in out


def test_a_product_without_its_star_says_how_to_write_it(
        capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "graph", "--set", "x=1", "--", "2(x + 1)")
    assert (code, out) == (2, "")
    assert "to multiply, write 2*(...)" in err and "Traceback" not in err


def test_a_graph_too_big_to_step_through_is_refused_before_anything_is_written(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """(It wrote the picture, then failed with status 1 naming backprop_html and max_steps,
    which the command does not have.)"""
    terms = MAX_STEPS // 2 + 10  # x*x + x*x + ...: a mul and an add per term
    svg, page = tmp_path / "big.svg", tmp_path / "big.html"
    code, out, err = run(capsys, "graph", "+".join(["x*x"] * terms), "--set", "x=1",
                         "-o", str(svg), "--html", str(page))
    assert (code, out) == (2, "")
    assert err == (f"tinygrad-edu graph: error: --html: the graph has {2 * terms} steps; the "
                   f"step-by-step page shows at most {MAX_STEPS} (drop --html, or use a smaller "
                   "expression)\n")
    assert list(tmp_path.iterdir()) == []
    code, out, err = run(capsys, "graph", "+".join(["x*x"] * terms), "--set", "x=1",
                         "-o", str(svg))  # the picture alone is fine
    assert code == 0, err
    assert svg.exists()


def test_the_step_limit_counts_steps_as_the_stepper_does() -> None:
    x = Value(1.5, label="x")
    for root in (x * x + 1, (x * 2).relu().tanh(), (x - x).relu() * x):
        assert count_steps(root) == len(backprop_steps(root)) - 1
    assert inspect.signature(backprop_html).parameters["max_steps"].default == MAX_STEPS


@pytest.mark.parametrize("text", ["x*10**400", "x + 2**1024", "exp(10**400) + x",
                                  "x - 10**400"])
def test_a_whole_number_beyond_a_float_is_infinite(capsys: pytest.CaptureFixture[str],
                                                   text: str) -> None:
    """`_as_float`'s overflow was caught, then math.copysign converted the integer again: a
    traceback, where 2.0**1024 gave inf."""
    code, out, err = run(capsys, "graph", text, "--set", "x=1")
    assert (code, err) == (0, ""), err
    assert ("-inf" if "-" in text else "inf") in out


@pytest.mark.parametrize(("extra", "said"), [
    (["--html", "missing/page.html"], r"--html: cannot write 'missing/page\.html': the folder "
                                      r"'missing' does not exist"),
    (["-o", "missing/g.svg"], r"-o/--output: cannot write 'missing/g\.svg': the folder "),
    (["-o", "g.svg/"], r"-o/--output: 'g\.svg/' is a folder; give the name of a file in it"),
])
def test_every_file_of_graph_is_checked_before_any_is_written(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        extra: list[str], said: str) -> None:
    """`-o part.svg --html missing/x.html` wrote part.svg, then failed; a missing folder of
    -o gave a bare "[Errno 2]"; -o g.svg/ wrote g.svg."""
    monkeypatch.chdir(tmp_path)
    code, _, err = run(capsys, "graph", "x*x", "--set", "x=2", "-o", "part.dot", *extra)
    assert code == 2 and re.search(said, err), err
    assert list(tmp_path.iterdir()) == []


def test_a_reader_that_stops_reading_stops_the_command_quietly() -> None:
    """``tinygrad-edu graph ... | head -1`` printed "error: [Errno 32] Broken pipe"."""
    read, write = os.pipe()
    os.close(read)  # (a reader gone before the first line)
    try:
        done = subprocess.run([sys.executable, "-m", "tinygrad_edu", "graph", "x*x", "--set",
                               "x=2"], stdout=write, stderr=subprocess.PIPE, timeout=120,
                              check=False)
    finally:
        os.close(write)
    assert (done.returncode, done.stderr) == (1, b"")


def test_an_expression_read_as_an_option_is_told_where_it_goes(
        capsys: pytest.CaptureFixture[str]) -> None:
    """argparse reads "-x*y" as an option and said only "required: expression"; the way out
    was in --help alone."""
    code, _, err = run(capsys, "graph", "-x*y", "--set", "x=1", "y=2")
    assert code == 2
    assert err.strip().endswith('required: expression (an expression that starts with a minus '
                                'goes last, after "--": graph --set x=2 y=3 -- "-x*y")')


def test_a_gate_named_twice_runs_once(capsys: pytest.CaptureFixture[str]) -> None:
    """`perceptron --gate and and` printed the AND run twice."""
    code, out, _ = run(capsys, "perceptron", "--gate", "and", "and", "xor")
    assert code == 0
    assert out.count("\nAND  (targets") == 1 and out.count("\nXOR  (targets") == 1


def test_values_given_without_set_are_pointed_to_it(capsys: pytest.CaptureFixture[str]) -> None:
    """``graph "x*w + b" x=2 w=-3 b=1`` got argparse's bare "unrecognized arguments"."""
    code, _, err = run(capsys, "graph", "x*w + b", "x=2", "w=-3", "b=1")
    assert code == 2 and err.rstrip().endswith(
        "unrecognized arguments: x=2 w=-3 b=1 (values of the expression's names follow "
        "--set: --set x=2 w=-3 b=1)"), err
    code, _, err = run(capsys, "graph", "x*w", "--set", "x=2", "w=3", "--bogus")
    assert code == 2 and "--set: --set" not in err
