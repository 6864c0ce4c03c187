"""The mutation-testing harness (`make mutation`) in its quick mode, so that it cannot rot.

A handful of fixed mutants (a rule that cuts a recorded backward pass, a rule wrong only for
a > 20, a kink convention, a forward off by 1e-3) must be killed, and a mutant that changes
nothing must survive: the harness injects its bugs where the tests see them, and does not
report kills that are not there. (The `ci` profile, derandomised, so the outcome is fixed.)
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_mutation_harness_quick_mode() -> None:
    done = subprocess.run([sys.executable, "scripts/mutation.py", "--quick"],
                          cwd=ROOT, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("killed") == 4 and "survived neg:identity" in done.stdout
