"""Stored workflows: drafts, activation, versions on edit, and what each state allows."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from inventory.models import Workflow, WorkflowVersion
from inventory.settings import Settings
from tests.conftest import Sim
from tests.workflows.conftest import DELETE, ROLE, chain
from vault.keys import load_keyring
from vault.store import Vault
from workflows import store
from workflows.errors import WorkflowExists, WorkflowInvalid, WorkflowNotFound, WorkflowStateError
from workflows.registry import load_registry
from workflows.runner import RunSummary

REGISTRY = load_registry()
Make = Callable[..., str]
Run = Callable[..., RunSummary]


def versions(session: Session) -> int:
    """How many versions are stored."""
    return session.scalar(select(func.count()).select_from(WorkflowVersion)) or 0


def test_create_stores_a_draft_at_version_1(synced: Sim, session: Session) -> None:
    workflow = store.create(session, chain(ROLE), REGISTRY)
    assert (workflow.state, workflow.version) == ("draft", 1)
    assert store.version_doc(session, workflow, 1)["blocks"][1]["id"] == "role"
    shown = store.workflow_to_dict(workflow)
    assert shown["trigger"] == {"type": "manual"} and shown["blocks"] == 3
    assert shown["created_at"].endswith("Z")


def test_create_refuses_a_taken_name_and_an_invalid_definition(
    synced: Sim, session: Session
) -> None:
    store.create(session, chain(ROLE), REGISTRY)
    with pytest.raises(WorkflowExists, match="exists already"):
        store.create(session, chain(DELETE), REGISTRY)
    with pytest.raises(WorkflowInvalid, match="credential 'nope' is not in the vault"):
        store.create(session, chain({**DELETE, "credential": "nope"}, name="other"), REGISTRY)


def test_editing_an_unrun_draft_keeps_its_version(synced: Sim, session: Session) -> None:
    store.create(session, chain(ROLE), REGISTRY)
    workflow, result = store.update(session, chain(ROLE, description="edited"), REGISTRY)
    assert (result, workflow.version, versions(session)) == ("edited", 1, 1)
    assert store.version_doc(session, workflow, 1)["description"] == "edited"
    assert store.update(session, chain(ROLE, description="edited"), REGISTRY)[1] == "unchanged"


def test_editing_an_active_workflow_makes_a_new_version(
    synced: Sim, make: Make, session: Session
) -> None:
    make(chain(ROLE))
    workflow, result = store.update(session, chain(ROLE, DELETE), REGISTRY)
    assert (result, workflow.version, workflow.state) == ("new_version", 2, "active")
    assert len(store.version_doc(session, workflow, 1)["blocks"]) == 3
    assert len(store.version_doc(session, workflow, 2)["blocks"]) == 4


def test_editing_a_draft_that_ran_makes_a_new_version(
    synced: Sim, make: Make, run: Run, session: Session
) -> None:
    make(chain(ROLE), activate=False)
    run(dry_run=True)
    assert store.update(session, chain(ROLE, description="x"), REGISTRY)[1] == "new_version"


def test_update_finds_the_workflow_by_name(synced: Sim, session: Session) -> None:
    with pytest.raises(WorkflowNotFound, match="no workflow named 'wf'"):
        store.update(session, chain(ROLE), REGISTRY)


def test_activation_checks_again(
    synced: Sim, make: Make, settings: Settings, session_factory: sessionmaker[Session]
) -> None:
    make(chain(ROLE), activate=False)
    with session_factory.begin() as session:
        Vault(session, load_keyring(settings)).delete("lever-key")
    with session_factory() as session, pytest.raises(WorkflowInvalid) as caught:
        store.activate(session, "wf", REGISTRY)
    assert caught.value.problems == [
        "block 'role': credential 'lever-key' is not in the vault "
        "(add it with `invsync vault add lever-key --username KEY`)"
    ]


def test_a_deactivated_workflow_only_dry_runs(
    synced: Sim, make: Make, run: Run, session_factory: sessionmaker[Session]
) -> None:
    make(chain(ROLE))
    with session_factory.begin() as session:
        assert store.deactivate(session, "wf").state == "inactive"
    with pytest.raises(WorkflowStateError, match="is inactive"):
        run()
    assert run(dry_run=True).status == "succeeded"
    with session_factory() as session:
        assert session.scalars(select(Workflow.state)).one() == "inactive"
