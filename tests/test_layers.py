"""The layers of architecture.md: each part of the package imports only downward."""

from __future__ import annotations

import ast
from pathlib import Path

import durablex

PACKAGE = Path(durablex.__file__).parent

LAYER = {
    "core": 0,
    "errors": 0,
    "records": 0,
    "app": 1,
    "store": 2,
    "runtime": 3,
    "runner": 4,
    "client": 4,
    "server": 5,
    "cli": 6,
    "__main__": 7,  # `python -m durablex`: the command line
}
SIBLINGS_APART = {("client", "runner"), ("runner", "client")}


def part_of(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] != "durablex" or len(parts) < 2:
        return None
    return parts[1]


def runtime_imports(tree: ast.Module) -> list[str]:
    """Imports that run at import time (those under ``if TYPE_CHECKING:`` do not)."""
    found: list[str] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            return
        if isinstance(node, ast.Import):
            found.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append(node.module)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def test_every_module_imports_only_its_own_layer_or_below() -> None:
    violations = []
    checked = 0
    for path in PACKAGE.rglob("*.py"):
        relative = path.relative_to(PACKAGE.parent).with_suffix("")
        module = ".".join(relative.parts)
        own = part_of(module)
        if own is None or own not in LAYER:
            continue
        checked += 1
        for imported in runtime_imports(ast.parse(path.read_text())):
            other = part_of(imported)
            if other is None or other == own or other not in LAYER:
                continue
            if LAYER[other] > LAYER[own] or (own, other) in SIBLINGS_APART:
                violations.append(f"{module} imports {imported}")
    assert checked > 20
    assert violations == []


def test_every_part_of_the_package_has_a_layer() -> None:
    parts = {
        path.relative_to(PACKAGE).parts[0].removesuffix(".py")
        for path in PACKAGE.rglob("*.py")
        if path.name != "__init__.py" or path.parent != PACKAGE
    }
    assert parts - set(LAYER) == set()
