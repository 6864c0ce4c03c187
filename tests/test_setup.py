"""The set-up scripts `make` runs before anything else."""

from __future__ import annotations

import importlib
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def run_check(python: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["sh", str(ROOT / "scripts" / "check-python.sh"), python],
                          capture_output=True, text=True, check=False)


def test_this_python_passes_the_check() -> None:
    assert run_check(sys.executable).returncode == 0


def test_an_old_python_is_refused_with_the_fix(tmp_path: Path) -> None:
    old = tmp_path / "python3.9"
    old.write_text("#!/bin/sh\n"
                   "case \"$1\" in --version) echo 'Python 3.9.2';; *) exit 1;; esac\n")
    old.chmod(0o755)
    result = run_check(str(old))
    assert result.returncode == 1
    assert "needs Python 3.11 or newer" in result.stderr and "Python 3.9.2" in result.stderr
    assert "make PYTHON=" in result.stderr


def test_a_missing_python_is_named() -> None:
    result = run_check("no-such-python-here")
    assert result.returncode == 1 and "'no-such-python-here' was not found" in result.stderr


def test_graphviz_check_passes_when_dot_is_installed() -> None:
    result = subprocess.run(["sh", str(ROOT / "scripts" / "ensure-graphviz.sh")],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0 and result.stderr == ""


def test_the_makefile_checks_python_before_creating_the_venv() -> None:
    makefile = (ROOT / "Makefile").read_text()
    recipe = makefile.split("$(STAMP): pyproject.toml", 1)[1]
    assert recipe.index("check-python.sh") < recipe.index("-m venv")


@pytest.mark.parametrize("module", ["torch", "onnx", "onnxruntime"])
def test_the_export_extra_is_installed(module: str) -> None:
    # the tests that compare with PyTorch and ONNX Runtime import them outright (no test skips
    # for a missing tool): a missing package is named here, with the way to install it
    try:
        importlib.import_module(module)
    except ImportError:
        raise AssertionError(f"{module!r} (the export extra) is not installed: `make test` "
                             "installs it (pip install -e '.[dev,plot,data,export]')") from None


def test_the_makefile_installs_the_pinned_cpu_torch_before_the_extras() -> None:
    makefile = (ROOT / "Makefile").read_text()
    recipe = makefile.split("$(STAMP): pyproject.toml", 1)[1].split("\n\n", 1)[0]
    extras = re.search(r"pip install [^\n]*-e '\.\[([\w,]+)\]'", recipe)
    assert extras is not None and "export" in extras.group(1).split(",")
    # any other spec than the exact pin makes pip download a multi-GB CUDA build
    assert recipe.index("pip install --quiet torch==2.13.0") < extras.start()
    assert re.findall(r"torch[=<>~!]=?[\w.]*", makefile) == ["torch==2.13.0"]


def test_the_export_extra_is_declared() -> None:
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"]
    names = {re.split(r"[<>=~!\[]", spec)[0] for spec in extras["export"]}
    assert names == {"torch", "onnx", "onnxruntime"}


def run_chromium_check(**env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["sh", str(ROOT / "scripts" / "ensure-chromium.sh")],
                          capture_output=True, text=True, check=False,
                          env={**os.environ, **env})


def test_chromium_check_passes_when_chromium_is_installed() -> None:
    result = run_chromium_check()
    assert result.returncode == 0 and result.stderr == ""


def test_a_chromium_that_is_not_there_is_named_with_the_fix(tmp_path: Path) -> None:
    missing = tmp_path / "no-chromium"
    result = run_chromium_check(CHROMIUM=str(missing))
    assert result.returncode == 1
    assert f"CHROMIUM={missing} is not an executable file" in result.stderr
    assert "apt-get install chromium" in result.stderr


def test_the_unit_tests_set_up_graphviz_and_chromium_first() -> None:
    makefile = (ROOT / "Makefile").read_text()
    unit = next(line for line in makefile.splitlines() if line.startswith("unit:"))
    assert "graphviz" in unit.split() and "chromium" in unit.split()
    assert "\t@sh scripts/ensure-chromium.sh" in makefile.split("\nchromium:", 1)[1]


def test_the_package_data_is_in_git_so_a_fresh_clone_has_it() -> None:
    """A template the package reads must be committed (a `*.html` ignore rule once hid one)."""
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    data = pyproject["tool"]["setuptools"]["package-data"]
    declared = [f"{package.replace('.', '/')}/{name}" for package, names in data.items()
                for name in names]
    assert "tinygrad_edu/viz/stepper.html" in declared
    if not (ROOT / ".git").exists():
        return  # an unpacked sdist: nothing to compare with
    listed = subprocess.run(["git", "ls-files", "--", *declared], capture_output=True,
                            text=True, check=True, cwd=ROOT).stdout.split()
    assert sorted(listed) == sorted(declared)
