"""The house: imports go only web → workflows → connector → vault → inventory.

A package may import itself and any package to its right, never one to its left. Every module of
the five packages is read (imports inside functions and TYPE_CHECKING blocks, and
`importlib.import_module` of a literal name, count too), so a backward import fails here with its
file, line and statement.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

LAYERS = ("web", "workflows", "connector", "vault", "inventory")
ROOT = Path(__file__).resolve().parent.parent


def imports(tree: ast.AST) -> Iterator[tuple[ast.AST, str]]:
    """Each absolute import in a module, with the name of the module it imports."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from ((node, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node, node.module
        elif (module := _imported_by_name(node)) is not None:
            yield node, module


def _imported_by_name(node: ast.AST) -> str | None:
    """The module of `import_module("name")` (or `importlib.import_module("name")`), if it is
    one."""
    if not isinstance(node, ast.Call) or not node.args:
        return None
    func, first = node.func, node.args[0]
    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
    if name != "import_module" or not isinstance(first, ast.Constant):
        return None
    return first.value if isinstance(first.value, str) else None


def backward_imports(package: str, source: str, filename: str) -> list[str]:
    """One line per import in the source that goes against the layering, naming where it is."""
    allowed = LAYERS[LAYERS.index(package) :]
    found = [
        (getattr(node, "lineno", 0), f"`{ast.unparse(node)}`")
        for node, module in imports(ast.parse(source, filename))
        if module.partition(".")[0] in LAYERS and module.partition(".")[0] not in allowed
    ]
    rule = f"{package} may import only {', '.join(allowed)}"
    return [f"{filename}:{line}: {statement}: {rule}" for line, statement in sorted(found)]


def modules() -> Iterator[tuple[str, Path]]:
    """Every Python module of the five packages, with the package it belongs to."""
    for package in LAYERS:
        for path in sorted((ROOT / package).rglob("*.py")):
            yield package, path


def test_every_module_imports_only_along_the_layering() -> None:
    found = [
        problem
        for package, path in modules()
        for problem in backward_imports(
            package, path.read_text(encoding="utf-8"), str(path.relative_to(ROOT))
        )
    ]
    assert found == [], "imports against web → workflows → connector → vault → inventory:\n" + (
        "\n".join(found)
    )


def test_the_packages_are_all_there() -> None:
    counts = {package: sum(1 for p, _ in modules() if p == package) for package in LAYERS}
    assert all(counts.values()), counts


BACKWARD = """\
from __future__ import annotations

import json
from inventory.models import Person
from vault.store import Vault
from . import errors
from .lever import client

import workflows.runner


def later():
    from web.app import create_app
    return importlib.import_module("workflows.triggers")
"""


def test_the_checker_names_each_backward_import_with_its_file_and_line() -> None:
    assert backward_imports("connector", BACKWARD, "connector/example.py") == [
        "connector/example.py:9: `import workflows.runner`: "
        "connector may import only connector, vault, inventory",
        "connector/example.py:13: `from web.app import create_app`: "
        "connector may import only connector, vault, inventory",
        "connector/example.py:14: `importlib.import_module('workflows.triggers')`: "
        "connector may import only connector, vault, inventory",
    ]


@pytest.mark.parametrize(
    ("package", "source"),
    [
        ("web", "import web.cli\nimport workflows\nfrom connector import sync\nimport inventory"),
        ("inventory", "from inventory.models import Base\nfrom . import db\nimport sqlalchemy"),
        ("vault", "from inventory.errors import ConfigError\nimport cryptography"),
    ],
)
def test_the_checker_lets_forward_and_own_imports_through(package: str, source: str) -> None:
    assert backward_imports(package, source, f"{package}/x.py") == []


def test_the_checker_refuses_the_lowest_package_anything_above_it() -> None:
    found = backward_imports("inventory", "from vault.keys import load_keyring\n", "inventory/x.py")
    assert found == [
        "inventory/x.py:1: `from vault.keys import load_keyring`: "
        "inventory may import only inventory"
    ]
