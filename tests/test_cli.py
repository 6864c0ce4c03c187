"""Tests for the `tinygrad-edu` command: the `graph` subcommand, its safe parser, and `demo`."""

from __future__ import annotations

import argparse
import contextlib
import os
import shlex
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tinygrad_edu import Value
from tinygrad_edu.cli import COMMANDS, MAX_DEPTH, MAX_EXPRESSION_LENGTH, main, make_parser

NEURON = ["graph", "tanh(x1*w1 + x2*w2 + b)", "--set", "x1=2", "x2=0", "w1=-3", "w2=1",
          "b=6.8813735870195432"]
SVG = "{http://www.w3.org/2000/svg}"


def test_graph_writes_svg_and_html(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    svg, page = tmp_path / "neuron.svg", tmp_path / "backprop.html"
    assert main([*NEURON, "-o", str(svg), "--html", str(page)]) == 0
    out = capsys.readouterr().out
    assert "= 0.707107" in out
    assert "d out / d x1 = -1.5" in out and "d out / d w2 = 0" in out
    assert f"wrote {svg}" in out and f"wrote {page}" in out
    texts = [t.text for t in ET.parse(svg).getroot().iter(f"{SVG}text")]
    for expected in ("x1", "w1", "b", "out", "tanh", "grad -1.5000", "data 0.7071", "legend"):
        assert expected in texts
    html = page.read_text(encoding="utf-8")
    assert html.count('<section class="frame"') == 11


def test_graph_without_output_prints_dot(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["graph", "x*x", "--set", "x=3", "--no-legend"]) == 0
    source = capsys.readouterr().out
    assert source.startswith("digraph tinygrad_edu {")
    assert source.count("n0 -> n1_op") == 2 and "grad 6.0000" in source


def test_graph_gradients_match_the_engine(capsys: pytest.CaptureFixture[str],
                                          tmp_path: Path) -> None:
    expr = "sigmoid(a) * exp(-b) / sqrt(c) + abs(a - b) ** 2 + leaky_relu(-a, 0.2) + 3"
    assert main(["graph", expr, "--set", "a=0.5", "b=1.5", "c=4", "-o",
                 str(tmp_path / "g.dot")]) == 0
    out = capsys.readouterr().out
    a, b, c = Value(0.5), Value(1.5), Value(4.0)
    y = a.sigmoid() * (-b).exp() / c.sqrt() + (a - b).abs() ** 2 + (-a).leaky_relu(0.2) + 3
    y.backward()
    for name, v in (("a", a), ("b", b), ("c", c)):
        assert f"d out / d {name} = {v.grad:.6g}" in out
    assert f"= {y.data:.6g}" in out


def test_inputs_option_marks_inputs(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*NEURON, "--inputs", "x1", "x2", "--no-legend"]) == 0
    source = capsys.readouterr().out
    assert source.count("#c6dbef") == 2  # the input colour


def test_graph_without_dot_binary_fails_with_install_hint(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("PATH", "")
    assert main([*NEURON, "-o", str(tmp_path / "n.svg")]) == 1
    err = capsys.readouterr().err
    assert "apt-get install graphviz" in err and "Traceback" not in err
    assert not (tmp_path / "n.svg").exists()
    assert main([*NEURON, "-o", str(tmp_path / "n.dot")]) == 0  # DOT needs no binary
    assert (tmp_path / "n.dot").read_text(encoding="utf-8").startswith("digraph")


HOSTILE = [
    "__import__('os').system('touch pwned')",
    "open('pwned', 'w')",
    "x.__class__.__bases__",
    "x.real",
    "(lambda: 1)()",
    "[a for a in x]",
    "{a: 1 for a in x}",
    "x[0]",
    "'pwned'",
    "b'pwned'",
    "True * x",
    "None",
    "x if x else x",
    "x < 1",
    "x and x",
    "(y := 3)",
    "exec('1')",
    "eval('x')",
    "tanh(x, x)",
    "tanh()",
    "tanh(x=x)",
    "tanh(*x)",
    "tanh",
    "getattr(x, 'data')",
    "leaky_relu(x, x)",
    "x // 2",
    "x % 2",
    "x @ x",
    "~x",
    "not x",
    "f'{x}'",
    "x; import os",
    "import os",
    "x +",
    "",
    "   ",
    "1j * x",
    "_x",
    "(x, x)",
    "x" * (MAX_EXPRESSION_LENGTH + 1),
    "exp(" * (MAX_DEPTH + 1) + "x" + ")" * (MAX_DEPTH + 1),
    "(" * 300 + "x" + ")" * 300,
    "-" * (MAX_DEPTH + 5) + "x",
    "9" * 400 + " * x",
]


@pytest.mark.parametrize("expression", HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_expressions_are_refused_without_side_effects(
        expression: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "out.svg"
    code = main(["graph", "--set", "x=1", "-o", str(out), "--html", "b.html", "--", expression])
    captured = capsys.readouterr()
    assert code == 2
    assert "error:" in captured.err and "Traceback" not in captured.err
    assert captured.out == ""
    assert sorted(os.listdir(tmp_path)) == []  # no output, no pwned file


def test_refusals_explain_what_is_wrong(capsys: pytest.CaptureFixture[str]) -> None:
    cases = {
        "x.real": "attribute access",
        "x[0]": "subscripting",
        "(lambda: 1)()": "a lambda",
        "[a for a in x]": "a comprehension",
        "__import__('os')": "unknown function '__import__'",
        "x" * (MAX_EXPRESSION_LENGTH + 1): "characters long",
        "exp(" * (MAX_DEPTH + 1) + "x" + ")" * (MAX_DEPTH + 1): "nested more than",
        "tanh": "tanh is a function",
        "2 * 3": "uses no variable",
    }
    for expression, message in cases.items():
        assert main(["graph", "--set", "x=1", "--", expression]) == 2
        assert message in capsys.readouterr().err, expression


def test_long_flat_sums_are_fine(capsys: pytest.CaptureFixture[str]) -> None:
    expression = " + ".join(["x"] * 200)  # 200 terms: long, but not deeply nested
    assert main(["graph", expression, "--set", "x=1"]) == 0
    assert "grad 200.0000" in capsys.readouterr().out


def test_unset_names_are_reported_by_name(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["graph", "tanh(x1*w1 + x2*w2 + b)", "--set", "x1=2", "w1=3", "w2=1"]) == 2
    err = capsys.readouterr().err
    assert "unset names: x2, b" in err and "--set x2=... b=..." in err


def test_every_option_of_several_values_adds_up_when_given_again() -> None:
    parser = make_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    several = [(name, action) for name, sub in commands.choices.items()
               for action in sub._actions if action.nargs == "+"]
    assert len(several) == 8, several
    for name, action in several:
        assert isinstance(action, argparse._ExtendAction), (name, action.option_strings)
        assert action.default in (None, []), (name, action.option_strings)  # (extend adds to it)
    args = parser.parse_args(["perceptron", "--gate", "and", "--gate", "xor"])
    assert args.gate == ["and", "xor"]
    args = parser.parse_args(["boundaries", "--layers", "1", "--layers", "2", "--units", "4"])
    assert (args.layers, args.units) == ([1, 2], [4])


def test_set_and_inputs_given_again_add_up(capsys: pytest.CaptureFixture[str]) -> None:
    """(``--set x=2 --set y=3`` kept only y=3 and said x was unset.)"""
    assert main(["graph", "x*y", "--set", "x=2", "--set", "y=3", "--inputs", "x",
                 "--inputs", "y", "--no-legend"]) == 0
    out = capsys.readouterr().out
    assert "data 6.0000" in out and out.count("#c6dbef") == 2, out  # both in the input colour
    assert main(["graph", "x", "--set", "x=1", "--set", "x=2"]) == 2
    assert "'x' is given twice" in capsys.readouterr().err


@pytest.mark.parametrize("assignment, message", [
    (["x"], "NAME=NUMBER"),
    (["x=abc"], "must be a number"),
    (["x=1", "x=2"], "given twice"),
    (["_x=1"], "NAME=NUMBER"),
    (["x.y=1"], "NAME=NUMBER"),
    (["tanh=1"], "function name"),
])
def test_bad_assignments_are_refused(assignment: list[str], message: str,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["graph", "x", "--set", *assignment]) == 2
    assert message in capsys.readouterr().err


def test_bad_output_names_are_refused_before_anything_is_written(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["graph", "x", "--set", "x=1", "-o", str(tmp_path / "g.jpg")]) == 2
    assert main(["graph", "x", "--set", "x=1", "-o", str(tmp_path / "g.svg"),
                 "--html", str(tmp_path / "b.txt")]) == 2
    assert main(["graph", "x", "--set", "x=1", "--inputs", "y"]) == 2
    assert list(tmp_path.iterdir()) == []
    assert capsys.readouterr().err.count("error:") == 3


def test_ieee_results_instead_of_crashes(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["graph", "1/0 + 2**2**2**2**2 * x", "--set", "x=1"]) == 0
    assert "data inf" in capsys.readouterr().out


def test_bad_usage_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert main(["nonsense"]) == 2
    assert main(["graph"]) == 2
    assert main(["graph", "x", "--bogus"]) == 2
    assert "usage:" in capsys.readouterr().err
    assert main(["--help"]) == 0


def test_demo_still_works(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["demo", "--quick", "--quiet", "--out", str(tmp_path),
                 "--only", "value_and_graph"]) == 0
    assert "d o / d x1 = -1.5000" in capsys.readouterr().out


def test_commands_table() -> None:
    assert [c.name for c in COMMANDS][:2] == ["demo", "graph"]


def test_python_dash_m_runs_the_graph_command(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "tinygrad_edu", "graph", "x*w", "--set", "x=2", "w=3",
         "-o", str(tmp_path / "g.png")],
        capture_output=True, text=True, check=False, timeout=60)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "g.png").read_bytes().startswith(b"\x89PNG")
    result = subprocess.run(
        [sys.executable, "-m", "tinygrad_edu", "graph", "x.__class__", "--set", "x=2"],
        capture_output=True, text=True, check=False, timeout=60)
    assert result.returncode == 2 and "attribute access" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_expression_parser_is_importable_from_cli_as_before() -> None:
    from tinygrad_edu import cli, expression

    for name in expression.__all__:
        assert name in cli.__all__ and getattr(cli, name) is getattr(expression, name)


def test_the_help_for_an_expression_with_a_minus_works_as_written(
        capsys: pytest.CaptureFixture[str]) -> None:
    """The help's own example (it showed `graph -- "-x*y" ...` before the options, which
    argparse refuses: after "--" every word is the expression's)."""
    with contextlib.suppress(SystemExit):
        main(["graph", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    start = help_text.index("graph --set")
    example = help_text[start:help_text.index('"-x*y"', start) + len('"-x*y"')]
    assert main(shlex.split(example)) == 0
    assert "digraph" in capsys.readouterr().out
