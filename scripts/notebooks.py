"""Execute the notebooks in notebooks/ and check that their stored outputs are not stale.

    python scripts/notebooks.py            # check every notebook (what the test does)
    python scripts/notebooks.py --write    # re-execute and store the outputs (`make notebooks`)
    python scripts/notebooks.py --write notebooks/04_xor_mlp.ipynb   # just one

Each notebook runs top to bottom in a fresh kernel, with nbclient, on the ``python3`` kernel of
the Python running this script (ipykernel installed in the same environment). The kernel's
working directory is a new temporary directory, so nothing a notebook might write lands in the
repository, and runs in parallel cannot collide; the repository root goes first on the
kernel's ``PYTHONPATH``, so ``import tinygrad_edu`` finds this checkout. A probe cell, run after
the notebook and never stored, reports which Python and which tinygrad_edu the kernel used.

The staleness rule (`stale_outputs`): every code cell must have been executed, in order,
counting 1, 2, 3 … (as one top-to-bottom run leaves them); and, cell by cell, the re-executed
outputs must match the stored ones:

* the same outputs, of the same kinds (stream, display_data, execute_result), in the same order;
* text, exactly: stream text and every ``text/plain``, once object addresses (``at 0x7f…``) are
  blanked. Notebooks print rounded numbers, so a last-digit difference between machines does
  not count but any real change in a result does;
* pictures, by presence: a display has the same MIME types (``image/png`` from matplotlib,
  ``image/svg+xml`` from graphviz) as stored, but the image bytes are not compared (they depend
  on the matplotlib, Graphviz and font versions installed).
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
TIMEOUT = 120  # seconds per cell; a notebook takes a few seconds in all
PROBE = "import sys, tinygrad_edu\nprint(sys.executable)\nprint(tinygrad_edu.__file__)"
ADDRESS = re.compile(r"0x[0-9a-fA-F]{4,}")
IMAGES = ("image/png", "image/svg+xml", "image/jpeg")


def notebook_paths() -> list[Path]:
    return sorted(NOTEBOOKS.glob("*.ipynb"))


def kernel_env() -> dict[str, str]:
    """The kernel's environment: this checkout first on the path, no .pyc written into it,
    and matplotlib left to the kernel's inline backend."""
    env = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def execute(path: Path, workdir: Path) -> Any:
    """Run the notebook at `path` top to bottom in a kernel started in `workdir`; return the
    executed notebook (an `nbformat.NotebookNode`). A cell that raises raises
    `nbclient.exceptions.CellExecutionError`, naming the cell and the error."""
    nb = nbformat.read(path, as_version=4)  # type: ignore[no-untyped-call]
    nb.cells.append(nbformat.v4.new_code_cell(PROBE))  # type: ignore[no-untyped-call]
    client = NotebookClient(nb, timeout=TIMEOUT, kernel_name="python3", record_timing=False,
                            coalesce_streams=True, resources={"metadata": {"path": str(workdir)}})
    client.execute(env=kernel_env())
    probe = nb.cells.pop()
    lines = "".join(o.get("text", "") for o in probe.outputs).split()
    expected = [sys.executable, str(ROOT / "tinygrad_edu" / "__init__.py")]
    if [os.path.realpath(line) for line in lines] != [os.path.realpath(e) for e in expected]:
        raise RuntimeError(f"{path.name}: the kernel ran {lines}, not {expected}")
    return nb


def _normal(text: Any) -> str:
    text = "".join(text) if isinstance(text, list) else str(text)
    return ADDRESS.sub("0x…", text)


def _summaries(outputs: Sequence[Any]) -> list[tuple[Any, ...]]:
    """What the staleness rule compares of a cell's outputs; consecutive pieces of the same
    stream are joined, since how a stream is cut into pieces depends on timing."""
    found: list[tuple[Any, ...]] = []
    for output in outputs:
        summary = _summary(output)
        if found and summary[0] == "stream" and found[-1][:2] == summary[:2]:
            found[-1] = (*summary[:2], found[-1][2] + summary[2])
        else:
            found.append(summary)
    return found


def _summary(output: Any) -> tuple[Any, ...]:
    """What the staleness rule compares of one output (see the module's docstring)."""
    kind = output.output_type
    if kind == "stream":
        return (kind, output.name, _normal(output.text))
    if kind in ("display_data", "execute_result"):
        data = output.get("data", {})
        return (kind, tuple(sorted(data)), _normal(data.get("text/plain", "")))
    return (kind, output.get("ename"), _normal(output.get("evalue", "")))


def stale_outputs(stored: Any, fresh: Any) -> list[str]:
    """Where the stored notebook's outputs differ from a fresh run's: an empty list when
    they agree under the staleness rule."""
    problems = []
    code = [c for c in stored.cells if c.cell_type == "code"]
    counts = [c.execution_count for c in code]
    if counts != list(range(1, len(code) + 1)):
        problems.append(f"cells were not executed once, top to bottom: execution counts "
                        f"{counts} (run `make notebooks`)")
    new = [c for c in fresh.cells if c.cell_type == "code"]
    if [c.source for c in code] != [c.source for c in new]:
        problems.append("the cells changed while running")
        return problems
    for i, (old, now) in enumerate(zip(code, new, strict=True), start=1):
        was, got = _summaries(old.outputs), _summaries(now.outputs)
        if was != got:
            problems.append(f"code cell {i} ({old.source.splitlines()[0][:50]!r}): stored "
                            f"{was!r}, a fresh run gives {got!r}")
    return problems


def write(path: Path, executed: Any) -> None:
    """Store an executed notebook, its outputs included, in nbformat's own layout."""
    nbformat.validate(executed)
    nbformat.write(executed, path)  # type: ignore[no-untyped-call]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="*", type=Path, help="notebooks (default: all)")
    parser.add_argument("--write", action="store_true",
                        help="store the fresh outputs instead of checking them")
    args = parser.parse_args(argv)
    failed = 0
    for path in args.paths or notebook_paths():
        start = time.perf_counter()
        with tempfile.TemporaryDirectory(prefix="notebook-") as workdir:
            executed = execute(path, Path(workdir))
        seconds = time.perf_counter() - start
        if args.write:
            write(path, executed)
            print(f"{path.name}: executed in {seconds:.1f} s, outputs stored")
            continue
        stored = nbformat.read(path, as_version=4)  # type: ignore[no-untyped-call]
        problems = stale_outputs(stored, executed)
        failed += bool(problems)
        print(f"{path.name}: {seconds:.1f} s, " + ("stale:" if problems else "up to date"))
        for problem in problems:
            print(f"  {problem}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
