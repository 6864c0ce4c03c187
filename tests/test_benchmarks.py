"""The benchmark script runs (tiny problems, few rounds) and prints its table: it cannot rot.

No figure is checked: timings on a shared machine prove nothing in a test.
"""

from __future__ import annotations

import functools
import os
import re
import runpy
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def test_the_benchmark_runs_and_prints_the_table() -> None:
    script = ROOT / "benchmarks" / "bench_engine.py"
    done = subprocess.run([sys.executable, str(script), "--quick", "--tiny", "--floors"],
                          cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert str(ROOT / "tinygrad_edu") in lines[0]  # this checkout, not an installed copy
    table = [line for line in lines if line.startswith("| ")]
    assert table[0].startswith("| work | micrograd |")
    floors = table.index(next(line for line in table if line.startswith("| work | lean")))
    rows = "\n".join(table[:floors])
    for work in ["micrograd's demo step", "both with the collector off",
                 "with the `gc.collect()` after each step added", "backward per node",
                 "MLP 2-4-2, batch 8", "MLP 20-8-4, batch 16"]:
        assert work in rows
    # the step with each graph let go after the timer, and the time of our graph's freeing
    let_go = next(line for line in table if "let go after the timer, so that" in line)
    assert re.search(r"× \(\d+\.\d ms\) \|$", let_go)
    backward = next(line for line in table if "backward per node" in line)
    assert backward.rstrip(" |").endswith("×)")  # (ours ÷ micrograd's, in brackets)
    # under each MLP, the same step with optim.SGD, our column only
    with_sgd = [line for line in table[:floors] if "with `optim.SGD`" in line]
    assert len(with_sgd) == 2 and all(line.count("×") == 1 for line in with_sgd)
    # the floors (their lean engines checked against the engine before they are timed)
    assert [line.split(" | ")[0] for line in table[floors + 1:]] == [
        "| micrograd's demo step, both with the collector off: micrograd ÷ …",
        "| its forward alone (the loss built; each graph let go after the timer): micrograd ÷ …",
        "| backward per node, scalar: ÷ micrograd's",
        "| MLP 2-4-2, batch 8, step ÷ hand-written numpy",
        "| MLP 20-8-4, batch 16, step ÷ hand-written numpy"]
    # a figure per floor that applies, and ours (no tape nor numpy under the backward alone)
    assert [line.count("×") for line in table[floors + 1:]] == [3, 3, 2, 3, 3]
    # ours, then our time ÷ the lean engine's in brackets
    assert "its time ÷ the lean engine's" in table[floors]
    assert all(re.search(r"× \(\d+\.\d\d\) \|$", line) for line in table[floors + 1:])


@pytest.mark.parametrize("part", ["scalar", "tape", "tensor"])
def test_a_floor_that_computes_something_else_is_refused(part: str,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    # lean engines whose backward visits the root only (or, on a tape, does nothing):
    # their gradients are not the engine's
    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))
    bench = runpy.run_path(str(ROOT / "benchmarks" / "bench_engine.py"))  # (not run as main)
    floors = sys.modules["floors"]
    if part == "tape":  # (the lean engine right, the tape's backward giving no gradient)
        monkeypatch.setattr(floors.TapeScalar, "backward", lambda self: None)
    else:
        monkeypatch.setattr(floors, "_walk", lambda root: [root])
    with pytest.raises(AssertionError, match="does not compute what the engine computes"):
        if part in ("scalar", "tape"):
            bench["bench_scalar"](1, 10, 4, 1, [])
        else:
            bench["bench_tensor"]([4, 3, 2], 5, 1, [])


def test_a_ratio_with_collections_adds_each_collection_to_its_own_step(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))
    bench = runpy.run_path(str(ROOT / "benchmarks" / "bench_engine.py"))  # (not run as main)
    theirs = bench["Contender"]("theirs", lambda: None, times=[1.0, 3.0, 2.0],
                                collections=[3.0, 0.0, 4.0])
    ours = bench["Contender"]("ours", lambda: None, times=[1.0, 1.0, 1.0],
                              collections=[0.0, 1.0, 1.0])
    assert bench["ratio"](theirs, ours) == 2.0  # (ratios 1, 3, 2)
    assert bench["ratio"](theirs, ours, with_collections=True) == 3.0  # (ratios 4, 1.5, 3)
    assert bench["ratio"](ours, theirs, with_collections=True) == 2 / 6  # (1/4, 2/3, 2/6)


@pytest.mark.parametrize("isolated", [False, True])
def test_rounds_give_each_contender_a_turn_a_round_in_its_own_process_when_isolated(
        isolated: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))
    bench = runpy.run_path(str(ROOT / "benchmarks" / "bench_engine.py"))  # (not run as main)
    ran: dict[str, list[int]] = {"on": [], "off": []}
    contenders = [bench["Contender"](name, functools.partial(ran[name].append, os.getpid()),
                                     gc_off=name == "off") for name in ran]
    bench["run_rounds"](contenders, 3, isolated=isolated)
    assert [len(c.times) for c in contenders] == [3, 3]
    assert [len(c.collections) for c in contenders] == [0, 3]  # (after collector-off steps)
    # the steps ran here (a warm-up and 3 turns), or in processes of their own, not here
    assert ran == ({"on": [os.getpid()] * 4, "off": [os.getpid()] * 4} if not isolated
                   else {"on": [], "off": []})


@pytest.mark.parametrize("failing", [0, 2], ids=["its first, untimed", "a timed one"])
def test_a_step_that_raises_in_its_own_process_is_named(failing: int) -> None:
    code = ("import runpy, sys\n"
            f"sys.path.insert(0, {str(ROOT / 'benchmarks')!r})\n"
            f"bench = runpy.run_path({str(ROOT / 'benchmarks' / 'bench_engine.py')!r})\n"
            "steps = iter(range(3))\n"
            "def step():\n"
            f"    if next(steps) == {failing}:\n"
            "        raise ValueError('boom')\n"
            "bench['run_rounds']([bench['Contender']('fine', lambda: None),\n"
            "                     bench['Contender']('failing', step)], 5, isolated=True)\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, timeout=120, check=False)
    assert done.returncode != 0
    assert "ValueError: boom" in done.stderr  # (the worker's traceback)
    assert "RuntimeError: the step of 'failing' raised (its traceback is above)" in done.stderr


def test_the_digits_benchmark_runs_and_prints_its_table() -> None:
    script = ROOT / "benchmarks" / "bench_digits.py"
    done = subprocess.run([sys.executable, str(script), "--quick"], cwd=ROOT,
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert str(ROOT / "tinygrad_edu") in lines[0]
    assert "medians over 2 rounds" in done.stdout
    rows = [line for line in lines if line.startswith("| ")]
    assert rows[0].startswith("| contender | CPU time per epoch |")
    names = [row.split(" | ")[0] for row in rows[1:]]
    assert names == ["| tinygrad_edu", "| PyTorch 2.13.0 (float64, 1 thread)",
                     "| PyTorch 2.13.0 (float32, 1 thread)",
                     f"| scikit-learn {__import__('sklearn').__version__} MLPClassifier"]
    # from the same weights and batches, PyTorch float64 reaches exactly our accuracy
    assert "the same test accuracy as tinygrad_edu in 2 of 2 rounds" in done.stdout


def test_the_digits_benchmark_without_torch_says_so_in_its_row() -> None:
    # main() of the script with torch not importable, as when it is not installed (not run as
    # __main__: it does not re-run itself)
    code = ("import runpy, sys\n"
            "class NoTorch:\n"
            "    def find_spec(self, name, path=None, target=None):\n"
            "        if name.split('.')[0] == 'torch':\n"
            "            raise ModuleNotFoundError(f'No module named {name!r}')\n"
            "sys.meta_path.insert(0, NoTorch())\n"
            f"bench = runpy.run_path({str(ROOT / 'benchmarks' / 'bench_digits.py')!r})\n"
            "bench['main'](['--quick'])\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    rows = [line for line in done.stdout.splitlines() if line.startswith("| ")]
    torch_rows = [row for row in rows if row.startswith("| PyTorch")]
    assert len(torch_rows) == 2 and all("not installed (pip install torch==2.13.0" in row
                                        for row in torch_rows)
    assert any(row.startswith("| tinygrad_edu | ") for row in rows)
    assert any(row.startswith("| scikit-learn") and " ms | " in row for row in rows)
    assert "PyTorch float64 from the same weights" not in done.stdout
