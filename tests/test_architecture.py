"""The package's architecture, as docs/ARCHITECTURE.md draws it, checked on the source.

Each module imports only modules of lower layers: the data flows one way, from the engine up
to the command line. The two exceptions are documented: the engine imports the derivative
table (`ops`) at its very end, because the table is written in terms of Value, and
`arrays.numpy_function` inside `Value.__array_function__`, when numpy calls it. No module
reads another module's private (underscore) names.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "tinygrad_edu"

# lowest first; a module may import from the layers before its own
LAYERS: list[set[str]] = [
    {"kernels", "_common", "testing.op_info", "testing.pytest_plugin", "idx", "grad_mode"},
    {"data", "fast", "methods", "changes"},
    {"storage"},
    {"engine"},
    {"ops", "anomaly", "pickling", "functional"},
    {"arrays", "activations"},
    {"losses", "perceptron", "optim", "datasets", "tinygrad_edu", "micrograd", "micrograd.engine"},
    {"nn", "micrograd.nn"},
    {"testing", "testing.strategies", "plots", "export"},
    {"viz.graph"},
    {"viz.dot"},
    {"viz.steps"},
    {"viz"},
    {"training"},
    {"lecture", "expression"},
    {"cli"},
    {"__main__"},
]
# the late import at the end of engine.py; the import in Value.__array_function__
EXCEPTIONS = {("engine", "ops"), ("engine", "arrays")}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts) or "tinygrad_edu"


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}
LAYER_OF = {name: i for i, layer in enumerate(LAYERS) for name in layer}


def package_imports(tree: ast.Module) -> list[tuple[str, list[str], int]]:
    """(module, imported names, line) for every run-time import from the package."""
    found: list[tuple[str, list[str], int]] = []
    type_checking_only: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING":
            type_checking_only |= {id(n) for child in node.body for n in ast.walk(child)}
    for node in ast.walk(tree):
        if id(node) in type_checking_only:
            continue
        if isinstance(node, ast.ImportFrom) and node.module is not None \
                and node.module.startswith("tinygrad_edu"):
            base = node.module.removeprefix("tinygrad_edu").removeprefix(".") or "tinygrad_edu"
            names = [a.name for a in node.names]
            submodules = [n for n in names if (n if base == "tinygrad_edu" else f"{base}.{n}")
                          in MODULES]
            if submodules:  # `from tinygrad_edu import ops`: the module itself
                for n in submodules:
                    found.append((n if base == "tinygrad_edu" else f"{base}.{n}", [], node.lineno))
                names = [n for n in names if n not in submodules]
            if names:
                found.append((base, names, node.lineno))
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("tinygrad_edu."):
                    found.append((alias.name.removeprefix("tinygrad_edu."), [], node.lineno))
    return found


def test_every_module_has_a_layer() -> None:
    missing = sorted(set(MODULES) - set(LAYER_OF))
    assert not missing, f"place these modules in LAYERS (and docs/ARCHITECTURE.md): {missing}"
    assert not set(LAYER_OF) - set(MODULES), "LAYERS names a module that does not exist"


@pytest.mark.parametrize("name", sorted(MODULES))
def test_imports_go_down_the_layers(name: str) -> None:
    tree = ast.parse(MODULES[name].read_text(encoding="utf-8"))
    for target, _, line in package_imports(tree):
        if target == name or (name, target) in EXCEPTIONS:
            continue
        assert LAYER_OF[target] < LAYER_OF[name], (
            f"{name} (layer {LAYER_OF[name]}) imports {target} (layer {LAYER_OF[target]}) at "
            f"line {line}: against the direction of docs/ARCHITECTURE.md")


@pytest.mark.parametrize("name", sorted(MODULES))
def test_no_module_reads_another_modules_private_names(name: str) -> None:
    tree = ast.parse(MODULES[name].read_text(encoding="utf-8"))
    modules = {alias.asname or alias.name for node in ast.walk(tree)
               if isinstance(node, ast.ImportFrom) and node.module == "tinygrad_edu"
               for alias in node.names if alias.name in MODULES}
    for target, names, line in package_imports(tree):
        private = [n for n in names if n.startswith("_")]
        assert not private, f"{name} imports private {private} from {target} (line {line})"
    for node in ast.walk(tree):
        if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                and node.value.id in modules and node.attr.startswith("_")
                and not node.attr.startswith("__")):
            raise AssertionError(f"{name} reads {node.value.id}.{node.attr} (line {node.lineno})")


def test_the_one_late_import_is_the_last_statement_of_the_engine() -> None:
    tree = ast.parse(MODULES["engine"].read_text(encoding="utf-8"))
    last = tree.body[-1]
    assert isinstance(last, ast.ImportFrom) and [a.name for a in last.names] == ["ops"]
    assert sum(1 for _, _, line in package_imports(tree) if line == last.lineno) == 1


def test_the_architecture_page_names_every_module() -> None:
    page = (PACKAGE.parent / "docs" / "ARCHITECTURE.md").read_text(encoding="utf-8")
    for name in MODULES:
        if name not in ("tinygrad_edu", "__main__"):
            assert name.split(".")[-1] in page, f"docs/ARCHITECTURE.md does not mention {name}"
