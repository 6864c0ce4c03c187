"""The benchmark script runs (tiny problems, few rounds) and prints its table: it cannot rot.

No figure is checked: timings on a shared machine prove nothing in a test.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_the_benchmark_runs_and_prints_the_table() -> None:
    script = ROOT / "benchmarks" / "bench_engine.py"
    done = subprocess.run([sys.executable, str(script), "--quick", "--tiny"], cwd=ROOT,
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert str(ROOT / "tinygrad_edu") in lines[0]  # this checkout, not an installed copy
    table = [line for line in lines if line.startswith("| ")]
    assert table[0].startswith("| work | micrograd |")
    rows = "\n".join(table)
    for work in ["micrograd's demo step", "both with the collector off", "backward per node",
                 "MLP 2-4-2, batch 8", "MLP 20-8-4, batch 16"]:
        assert work in rows
