"""The change log holds by construction only while nothing else writes People or SaaS users:
this test reads the packages' source and fails on a write that bypasses the two writers
(`inventory.upsert` for syncs, `inventory.records` for everything else)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("connector", "vault", "inventory", "workflows", "web")
WRITERS = {"inventory/upsert.py", "inventory/records.py", "inventory/models.py"}
MODELS = {"Person", "SaasUser"}
DML = {"insert", "update", "delete"}


def _modules() -> list[Path]:
    """Every Python module of the packages, migrations aside (they move schema, not records)."""
    found = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if "migrations" not in path.parts:
                found.append(path)
    return found


def _model_names(tree: ast.AST) -> tuple[set[str], set[str]]:
    """The names the module binds to the two models, and to the `inventory.models` module."""
    models, modules = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == "inventory.models":
            models |= {a.asname or a.name for a in node.names if a.name in MODELS}
        elif isinstance(node, ast.ImportFrom) and node.module == "inventory":
            modules |= {a.asname or a.name for a in node.names if a.name == "models"}
        elif isinstance(node, ast.Import):
            modules |= {a.asname for a in node.names if a.name == "inventory.models" and a.asname}
    return models, modules


def _is_model(node: ast.AST, models: set[str], modules: set[str]) -> bool:
    """Whether the expression names Person or SaasUser of `inventory.models`."""
    if isinstance(node, ast.Name):
        return node.id in models
    return (
        isinstance(node, ast.Attribute)
        and node.attr in MODELS
        and isinstance(node.value, ast.Name)
        and node.value.id in modules
    )


def _called(node: ast.Call) -> str | None:
    """The plain or dotted-last name of the function called."""
    func = node.func
    return func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)


def bypasses(source: str) -> list[str]:
    """The writes of People or SaaS users in the source that skip the writers, as
    'line N: what'."""
    tree = ast.parse(source)
    models, modules = _model_names(tree)
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        called = _called(node)
        first = node.args[0] if node.args else None
        if _is_model(node.func, models, modules):
            found.append(f"line {node.lineno}: builds a {called}")
        elif called in DML and first is not None and _is_model(first, models, modules):
            found.append(f"line {node.lineno}: {called}() of a record table")
    return found


def test_no_module_writes_people_or_saas_users_past_the_writers() -> None:
    offenders = []
    for path in _modules():
        rel = path.relative_to(ROOT).as_posix()
        if rel in WRITERS:
            continue
        offenders += [f"{rel} {hit}" for hit in bypasses(path.read_text(encoding="utf-8"))]
    assert offenders == [], "write through inventory.records instead:\n" + "\n".join(offenders)


IMPORTS = "from inventory.models import Person, SaasUser\nfrom inventory import models\n"


@pytest.mark.parametrize(
    "source",
    [
        "session.add(Person(email='a@x'))",
        "session.execute(update(SaasUser).values(role='x'))",
        "session.execute(sa.delete(Person))",
        "user = models.SaasUser(external_id='u1')",
    ],
)
def test_the_check_catches_each_kind_of_bypass(source: str) -> None:
    assert bypasses(IMPORTS + source)


def test_the_check_lets_reads_writers_and_other_classes_through() -> None:
    source = (
        "session.scalars(select(Person).where(Person.id == 1))\n"
        "set_fields(s, u, {}, now)\n"
        "schemas.Person().dump(row)\n"
    )
    assert bypasses(IMPORTS + source) == []
