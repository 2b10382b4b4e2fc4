"""The block registry: every block type and preset documented, and extensions plug in through
the same hook the built-ins use."""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable
from types import ModuleType, SimpleNamespace
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from inventory.settings import Settings
from tests.conftest import Sim
from tests.workflows.conftest import accounts, chain, options
from workflows import store
from workflows.blocks.api import OPERATIONS
from workflows.context import Record, RunContext
from workflows.definition import check
from workflows.registry import (
    BUILTIN_MODULES,
    Block,
    CheckEnv,
    Preset,
    Registry,
    Result,
    load_registry,
)
from workflows.runner import RunOptions, run_workflow

REGISTRY = load_registry()


@pytest.mark.parametrize("name", sorted(REGISTRY.blocks))
def test_every_block_type_is_documented(name: str) -> None:
    cls = REGISTRY.blocks[name]
    doc = inspect.getdoc(cls) or ""
    assert "__doc__" in vars(cls), f"{cls.__name__} inherits its docstring"
    assert doc.strip() and len(doc.splitlines()[0]) > 20, f"{name} needs a one-line docstring"
    for method in ("check", "describe", "run"):
        impl = getattr(cls, method)
        assert inspect.getdoc(impl), f"{name}.{method} needs a docstring"


@pytest.mark.parametrize("name", sorted(REGISTRY.presets))
def test_every_preset_is_documented_and_runs_somewhere(name: str) -> None:
    preset = REGISTRY.presets[name]
    assert len(preset.description) > 40 and preset.vendor
    assert preset.block_type in REGISTRY.blocks
    known = {"api": set(OPERATIONS), "saas_user_role": {"user_role"}}
    assert preset.operation in known[preset.block_type]


def test_the_built_ins_are_what_the_issue_asks_for() -> None:
    assert set(REGISTRY.blocks) >= {
        "begin", "end", "saas_user_role", "api", "condition", "update", "notification",
    }  # fmt: skip
    assert {"lever_user_role", "lever_delete_user"} <= set(REGISTRY.presets)


@pytest.mark.parametrize("module", BUILTIN_MODULES)
def test_built_ins_register_through_the_extension_hook(module: str) -> None:
    hook = importlib.import_module(module).register
    assert inspect.signature(hook).parameters.keys() == {"registry"}
    assert inspect.getdoc(hook)


def test_a_name_is_registered_once() -> None:
    registry = load_registry()
    with pytest.raises(ValueError, match="registered already"):
        registry.add_block(registry.blocks["api"])
    with pytest.raises(ValueError, match="registered already"):
        registry.add_preset(registry.presets["lever_user_role"])


class Stamp(Block):
    """Write a stamp into the SaaS user's role (an extension's block, for tests)."""

    type = "stamp"
    keys = frozenset({"text"})

    def check(self, env: CheckEnv) -> list[str]:
        """The stamp must be text."""
        return [] if isinstance(self.spec.get("text"), str) else ['needs "text"']

    def describe(self, ctx: RunContext, record: Record) -> str:
        """What it would write."""
        return f"would stamp {self.spec.get('text')}"

    def run(self, ctx: RunContext, record: Record) -> Result:
        """Stamp the record."""
        if not ctx.dry_run:
            record.user.role = str(self.spec.get("text"))
        return Result.success("stamped")


def extension() -> ModuleType:
    """A module as an extension would ship it: a `register(registry)` hook."""
    module = ModuleType("invsync_stamp")

    def register(registry: Registry) -> None:
        """Register the Stamp block and a preset."""
        registry.add_block(Stamp)
        description = "Acme User Role: read the role from Acme."
        registry.add_preset(Preset("acme_role", "saas_user_role", "Acme", description, "user_role"))

    module.register = register  # type: ignore[attr-defined]
    return module


def test_an_extension_block_validates_and_runs(
    synced: Sim,
    settings: Settings,
    session_factory: sessionmaker[Session],
    session: Session,
) -> None:
    registry = load_registry(extra=[extension()])
    doc = chain({"id": "stamp", "type": "stamp", "text": "seen"})
    assert check(doc, CheckEnv(load_registry())) == [
        "block 'stamp': unknown block type 'stamp' (use one of api, begin, condition, end, "
        "notification, saas_user_role, update)"
    ]
    assert check(doc, CheckEnv(registry)) == []
    with session_factory.begin() as s:
        store.create(s, doc, registry)
        store.activate(s, "wf", registry)
    run_options = RunOptions(registry=registry, client_options=options().client_options)
    summary = run_workflow(session_factory, settings, "wf", options=run_options)
    assert summary.outcomes["stamp"]["success"] == summary.matched > 0
    assert {u.role for u in accounts(session).values() if u.status == "active"} == {"seen"}


def test_installed_extensions_load_from_entry_points(monkeypatch: pytest.MonkeyPatch) -> None:
    entry = SimpleNamespace(load=extension)
    found: Callable[..., Any] = lambda group: [entry] if group == "invsync.workflows" else []  # noqa: E731
    monkeypatch.setattr("workflows.registry.entry_points", found)
    assert "stamp" in load_registry().blocks
    assert "stamp" not in load_registry(plugins=False).blocks
