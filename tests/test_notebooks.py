"""The notebooks in notebooks/ run top to bottom, and the outputs stored in them are current.

Each notebook is executed by `scripts/notebooks.py` (nbclient, a fresh ``python3`` kernel of
this Python, in a temporary working directory) and compared with its stored outputs under the
staleness rule written there: text exactly (object addresses blanked), pictures by presence.
When a test here fails because outputs are stale, run `make notebooks` and commit the result.
"""

from __future__ import annotations

import copy
import importlib.util
import re
from pathlib import Path
from types import ModuleType
from typing import Any

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent


def _load_runner() -> ModuleType:
    spec = importlib.util.spec_from_file_location("notebook_runner",
                                                  ROOT / "scripts" / "notebooks.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


runner = _load_runner()
NOTEBOOKS: list[Path] = runner.notebook_paths()
PARTS = ["01_neuron_and_its_graph", "02_activations", "03_perceptron_and_logic_gates",
         "04_xor_with_an_mlp", "05_decision_boundaries", "06_property_testing_your_own_op",
         "07_from_micrograd_to_tensors", "08_handwritten_digits"]
PICTURES = {"01_neuron_and_its_graph": "image/svg+xml", "02_activations": "image/png",
            "03_perceptron_and_logic_gates": "image/png", "04_xor_with_an_mlp": "image/png",
            "05_decision_boundaries": "image/png", "08_handwritten_digits": "image/png"}


def read(path: Path) -> Any:
    return nbformat.read(path, as_version=4)  # type: ignore[no-untyped-call]


def test_there_is_a_notebook_for_each_part_of_the_lecture() -> None:
    assert [p.stem for p in NOTEBOOKS] == PARTS


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_the_stored_notebook_is_valid_with_its_pictures_and_no_error(path: Path) -> None:
    nb = read(path)
    nbformat.validate(nb)
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert outputs and not [o for o in outputs if o.output_type == "error"]
    kinds = {kind for o in outputs for kind in o.get("data", {})}
    if path.stem in PICTURES:
        assert PICTURES[path.stem] in kinds
    assert any(c.cell_type == "markdown" for c in nb.cells[1:])


def warnings_printed(nb: Any) -> list[str]:
    """The text a notebook's cells wrote to stderr (where Python's warnings go)."""
    return [o.text for c in nb.cells if c.cell_type == "code" for o in c.outputs
            if o.output_type == "stream" and o.name == "stderr"]


PERCENT = re.compile(r"(\d+(?:\.\d+)?)%")


def percentages_not_printed(nb: Any) -> list[str]:
    """The percentages the notebook's prose quotes that none of its outputs shows (as numbers:
    a "100%" in the prose is the "100.0%" an output prints)."""
    texts = [o.get("text", "") + o.get("data", {}).get("text/plain", "")
             for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    printed = {float(x) for text in texts for x in PERCENT.findall(text)}
    quoted = [x for c in nb.cells if c.cell_type == "markdown" for x in PERCENT.findall(c.source)]
    return [f"{x}%" for x in quoted if float(x) not in printed]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_the_stored_notebook_prints_no_warning(path: Path) -> None:
    assert warnings_printed(read(path)) == []


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_percentage_the_prose_quotes_is_one_the_notebook_printed(path: Path) -> None:
    assert percentages_not_printed(read(path)) == []


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_the_notebook_runs_and_its_stored_outputs_are_current(path: Path,
                                                              tmp_path: Path) -> None:
    # no time limit here: speed targets live in benchmarks, never in timed tests (PRODUCT.md);
    # `python scripts/notebooks.py` prints each notebook's time
    executed = runner.execute(path, tmp_path)  # raises if a cell raises
    problems = runner.stale_outputs(read(path), executed)
    assert not problems, ("stale outputs; run `make notebooks` and commit them:\n"
                          + "\n".join(problems))


# ---- the staleness rule itself, on a stored notebook changed by hand (no kernel needed) -------


def stored_and_copy() -> tuple[Any, Any]:
    stored = read(ROOT / "notebooks" / "04_xor_with_an_mlp.ipynb")
    return stored, copy.deepcopy(stored)


def code_cells(nb: Any) -> list[Any]:
    return [c for c in nb.cells if c.cell_type == "code"]


def test_a_copy_is_current() -> None:
    stored, fresh = stored_and_copy()
    assert runner.stale_outputs(stored, fresh) == []


def test_a_changed_number_is_stale() -> None:
    stored, fresh = stored_and_copy()
    stream = next(o for c in code_cells(fresh) for o in c.outputs if o.output_type == "stream")
    stream.text = re.sub(r"\d", lambda digit: str((int(digit.group()) + 1) % 10), stream.text,
                         count=1)
    assert len(runner.stale_outputs(stored, fresh)) == 1


def test_a_missing_picture_is_stale_but_different_picture_bytes_are_not() -> None:
    stored, fresh = stored_and_copy()
    figure = next(o for c in code_cells(fresh) for o in c.outputs
                  if "image/png" in o.get("data", {}))
    figure.data["image/png"] = figure.data["image/png"][::-1]
    assert runner.stale_outputs(stored, fresh) == []
    del figure.data["image/png"]
    assert len(runner.stale_outputs(stored, fresh)) == 1


def test_object_addresses_and_stream_pieces_do_not_count() -> None:
    stored, fresh = stored_and_copy()
    figure = next(o for c in code_cells(fresh) for o in c.outputs if "data" in o)
    figure.data["text/plain"] = "<object at 0x7f00deadbeef>"
    old = next(o for c in code_cells(stored) for o in c.outputs if "data" in o)
    old.data["text/plain"] = "<object at 0x7fcb459ffad0>"
    cell = next(c for c in code_cells(fresh) if c.outputs and c.outputs[0].output_type == "stream")
    text = cell.outputs[0].text
    cell.outputs[0].text = text[:5]
    rest = nbformat.v4.new_output("stream", name="stdout", text=text[5:])  # type: ignore[no-untyped-call]
    cell.outputs.insert(1, rest)
    assert runner.stale_outputs(stored, fresh) == []


def test_a_warning_in_an_output_is_found() -> None:
    stored, _ = stored_and_copy()
    warning = nbformat.v4.new_output("stream", name="stderr",  # type: ignore[no-untyped-call]
                                     text="RuntimeWarning: overflow encountered in exp\n")
    code_cells(stored)[0].outputs.append(warning)
    assert warnings_printed(stored) == ["RuntimeWarning: overflow encountered in exp\n"]


def test_a_percentage_the_outputs_do_not_show_is_found() -> None:
    stored = read(ROOT / "notebooks" / "05_decision_boundaries.ipynb")
    assert percentages_not_printed(stored) == []
    cell = next(c for c in stored.cells if c.cell_type == "markdown" and "%" in c.source)
    cell.source += " Depth brings the narrowest network to 71%."
    assert percentages_not_printed(stored) == ["71%"]


def test_cells_run_out_of_order_are_stale() -> None:
    stored, fresh = stored_and_copy()
    cells = code_cells(stored)
    cells[0].execution_count, cells[1].execution_count = 2, 1
    [problem] = runner.stale_outputs(stored, fresh)
    assert "make notebooks" in problem
