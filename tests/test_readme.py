"""Every code block of README.md runs, and shows what it prints.

* A ```python block written with ``>>>`` prompts is a doctest: its shown output is checked.
* Any other ```python block is run as a script; when a ```text block follows it directly, that
  is what it must print (``...`` matches anything, as in doctests).
* In ```sh blocks, each command must exist: a Makefile target, a `tinygrad-edu` subcommand with
  options its parser accepts, or a script in examples/ with options it has.
"""

from __future__ import annotations

import contextlib
import doctest
import io
import re
import shlex
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np
import pytest

from tinygrad_edu.cli import make_parser
from tinygrad_edu.lecture import EXAMPLES

matplotlib.use("Agg")

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
FENCE = re.compile(r"^```(\w*)\n(.*?)^```\n", re.S | re.M)
FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


def blocks() -> list[tuple[str, str, int, int]]:
    """(language, code, start, end) of every fenced block, in order."""
    return [(m.group(1), m.group(2), m.start(), m.end()) for m in FENCE.finditer(README)]


def python_cases() -> list[tuple[str, str | None]]:
    """Each python block with the text block right after it (its output), if any."""
    found = blocks()
    cases = []
    for i, (lang, code, _, end) in enumerate(found):
        if lang != "python":
            continue
        shown = None
        if i + 1 < len(found):
            next_lang, next_code, next_start, _ = found[i + 1]
            if next_lang == "text" and not README[end:next_start].strip():
                shown = next_code
        cases.append((code, shown))
    return cases


def line_of(code: str) -> int:
    return README[: README.index(code)].count("\n") + 1


PYTHON = python_cases()
SHELL = [line for lang, code, _, _ in blocks() if lang == "sh"
         for line in code.splitlines() if line.strip() and not line.startswith("#")]


def test_the_readme_has_what_the_issue_asks_for() -> None:
    assert len(PYTHON) >= 4 and any(">>>" in code for code, _ in PYTHON)
    assert any("make demo" in line for line in SHELL)
    assert any("make test" in line for line in SHELL)
    picture = re.search(r"!\[[^\]]*\]\((docs/[^)]+)\)", README)
    assert picture is not None
    svg = ROOT / picture.group(1)
    assert svg.is_file() and svg.stat().st_size < 100_000
    assert "<svg" in svg.read_text(encoding="utf-8") and "grad -1.5000" in svg.read_text(
        encoding="utf-8").replace("&#45;", "-")
    for heading in ("Quick start", "The lecture, topic by topic", "Seeing the graph",
                    "How the gradients are checked", "Honest limits"):
        assert f"## {heading}" in README
    for name in EXAMPLES:
        assert f"{name}.py" in README, name
    assert "Primitive(\"cube\"" in README and "engine.primitive(" in README


@pytest.mark.parametrize("code, shown", PYTHON, ids=[f"line{line_of(c)}" for c, _ in PYTHON])
def test_python_block_runs(code: str, shown: str | None, tmp_path: Path,
                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # blocks that write files write them here
    if ">>>" in code:
        assert shown is None
        test = doctest.DocTestParser().get_doctest(code, {}, "README", "README.md",
                                                   line_of(code))
        output = io.StringIO()
        runner = doctest.DocTestRunner(optionflags=FLAGS)
        runner.run(test, out=output.write)
        assert runner.failures == 0, output.getvalue()
        return
    namespace: dict[str, Any] = {"__name__": "__readme__"}
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(code, f"README.md:{line_of(code)}", "exec"), namespace)
    if shown is not None:
        checker = doctest.OutputChecker()
        assert checker.check_output(shown, printed.getvalue(), FLAGS), (
            f"README shows:\n{shown}\nbut the block printed:\n{printed.getvalue()}")


def make_targets() -> set[str]:
    text = (ROOT / "Makefile").read_text(encoding="utf-8")
    return set(re.findall(r"^([A-Za-z][\w%-]*):", text, re.M))


@pytest.mark.parametrize("line", SHELL)
def test_shell_command_exists(line: str) -> None:
    words = shlex.split(line, comments=True)
    if words[0] == "make":
        targets = make_targets()
        for target in words[1:]:
            assert target in targets or (
                target.startswith("example-") and "example-%" in targets
                and target.removeprefix("example-") in EXAMPLES), target
    elif words[0] == "tinygrad-edu":
        make_parser().parse_args(words[1:])  # exits (status 2) on an unknown option
    elif words[0] == "python" and words[1].startswith("examples/"):
        assert (ROOT / words[1]).is_file()
        assert Path(words[1]).stem in EXAMPLES
        options = [w for w in words[2:] if w.startswith("-")]
        assert set(options) <= {"--out", "--quick", "--quiet", "--help"}
    else:
        pytest.fail(f"the README names a command the tests do not know: {line}")


def test_the_grid_shown_is_what_the_example_reached(full_tour: dict[str, Any]) -> None:
    """The README's table is a full-size run of decision_boundaries (deterministic for its
    seed on one machine): the full tour's (conftest's `full_tour`), compared within a point of
    the figure or of the range ("86–92%") the README gives for a cell that another
    processor's rounding moves over 2,000 steps."""
    table = README[README.index("| m \\ n |"):]
    rows = [line for line in table.splitlines()[2:6]]
    shown = [[[int(end) for end in cell.strip().rstrip("%").split("–")]
              for cell in row.split("|")[2:6]] for row in rows]
    low = np.array([[cell[0] for cell in row] for row in shown])
    high = np.array([[cell[-1] for cell in row] for row in shown])
    grid = full_tour["results"]["decision_boundaries"]
    assert grid.details["steps"] == 2000  # (the full size)
    reached = np.round(100 * grid.details["grid"])
    assert np.all((low - 1 <= reached) & (reached <= high + 1)), \
        f"the README shows {shown}: the example reaches {reached.astype(int).tolist()}"
