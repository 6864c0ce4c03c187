"""A pytest plugin, loaded by pytest wherever tinygrad_edu is installed: a learner's own tests
see tinygrad_edu's IEEE results (inf, nan) as silently as a script does.

The package ignores numpy's RuntimeWarnings raised inside it with a filter it installs when
imported (`tinygrad_edu.kernels`). pytest records warnings around collecting and running each
test, and restores the filters it found when that ends: a test file that imports tinygrad_edu
would lose the filter, and ``pytest -W error::RuntimeWarning`` would fail on ``Value(0.0).log()``.
So the plugin gives pytest the same filter: in the ``filterwarnings`` of the session (above
an ini file's ``filterwarnings = error``); as a ``filterwarnings`` mark on every test, which
pytest applies after the command line's ``-W`` options, so ``-W error`` does not undo it (a
test's own ``filterwarnings`` marks come after it: one that makes warnings errors does so for
the test's own numpy code, while an operation of the engine that numpy stops is redone with
its errors off, `kernels.NUMPY_ALARMS`); and around collection, where module-level code of a
test file runs.
"""

from __future__ import annotations

import warnings
from collections.abc import Generator
from typing import Any

import pytest

FILTER = r"ignore::RuntimeWarning:tinygrad_edu(\.|$)"
"""The package's filter (kernels.py), as pytest's ``filterwarnings`` option writes it."""


def pytest_configure(config: Any) -> None:
    """Add `FILTER` to the ``filterwarnings`` of the session."""
    config.addinivalue_line("filterwarnings", FILTER)


@pytest.hookimpl(hookwrapper=True)  # (the old-style wrapper: pytest 7.4 and pluggy < 1.1 too)
def pytest_collection(session: Any) -> Generator[None, Any, None]:
    """Collect with `FILTER` applied after pytest's own filters (its `-W` included)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=RuntimeWarning, module=r"tinygrad_edu(\.|$)")
        yield


def pytest_collection_modifyitems(items: list[Any]) -> None:
    """Mark every test with `FILTER`, before its own marks (which pytest applies after)."""
    for item in items:
        item.add_marker(pytest.mark.filterwarnings(FILTER), append=False)
