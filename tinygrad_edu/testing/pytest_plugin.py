"""A pytest plugin, loaded by pytest wherever tinygrad_edu is installed: a learner's own tests
see tinygrad_edu's IEEE results (inf, nan) as silently as a script does.

The package ignores numpy's RuntimeWarnings raised inside it with a filter it installs when
imported (`tinygrad_edu.kernels`). pytest records warnings around collecting and running each
test, and restores the filters it found when that ends: a test file that imports tinygrad_edu
would lose the filter, and ``pytest -W error::RuntimeWarning`` would fail on ``Value(0.0).log()``.
So the plugin gives pytest the same filter, which it applies around every test.
"""

from __future__ import annotations

from typing import Any

FILTER = r"ignore::RuntimeWarning:tinygrad_edu(\.|$)"
"""The package's filter (kernels.py), as pytest's ``filterwarnings`` option writes it."""


def pytest_configure(config: Any) -> None:
    """Add `FILTER` to the ``filterwarnings`` of the session."""
    config.addinivalue_line("filterwarnings", FILTER)
