"""Workflows as stored: create, update (a new version once a workflow is live or has run),
activate, deactivate, look up. Services take a Session and never commit."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from sqlalchemy import exists, func, select
from sqlalchemy.orm import Session

from inventory.models import Credential, CustomField, Workflow, WorkflowRun, WorkflowVersion
from inventory.timeutil import iso, utcnow
from workflows.definition import Definition, load
from workflows.errors import WorkflowExists, WorkflowNotFound
from workflows.registry import CheckEnv, Registry

__all__ = [
    "STATES",
    "activate",
    "check_env",
    "create",
    "deactivate",
    "get",
    "list_all",
    "update",
    "version_doc",
    "workflow_to_dict",
]

STATES = ("draft", "active", "inactive")


def check_env(session: Session, registry: Registry) -> CheckEnv:
    """What validation checks against: the registry, the names of the stored credentials and
    the People custom fields."""
    credentials = frozenset(session.scalars(select(Credential.name)))
    return CheckEnv(registry, credentials, frozenset(session.scalars(select(CustomField.name))))


def get(session: Session, name: str) -> Workflow:
    """The workflow of that name, or WorkflowNotFound naming how to see them all."""
    workflow = session.scalar(select(Workflow).where(Workflow.name == name))
    if workflow is None:
        raise WorkflowNotFound(f"no workflow named {name!r}: see `invsync workflow list`")
    return workflow


def list_all(session: Session) -> list[Workflow]:
    """Every workflow, by name."""
    return list(session.scalars(select(Workflow).order_by(Workflow.name)))


def create(session: Session, doc: Mapping[str, Any], registry: Registry) -> Workflow:
    """Store a valid definition as a draft, version 1."""
    definition = load(doc, check_env(session, registry))
    if session.scalar(select(exists().where(Workflow.name == definition.name))):
        raise WorkflowExists(
            f"a workflow named {definition.name!r} exists already: change it with "
            "`invsync workflow update --file FILE`"
        )
    workflow = Workflow(name=definition.name, state="draft", version=1)
    _store(workflow, definition)
    session.add(workflow)
    session.flush()
    session.add(WorkflowVersion(workflow_id=workflow.id, version=1, definition=workflow.definition))
    session.flush()
    return workflow


def update(session: Session, doc: Mapping[str, Any], registry: Registry) -> tuple[Workflow, str]:
    """Replace a workflow's definition (found by its name): `new_version` once the workflow is
    live or its version has run, `edited` for a draft's unrun version, or `unchanged`."""
    definition = load(doc, check_env(session, registry))
    workflow = get(session, definition.name)
    if _plain(definition.doc) == workflow.definition:
        return workflow, "unchanged"
    _store(workflow, definition)
    if workflow.state == "draft" and not _has_run(session, workflow):
        row = _version_row(session, workflow, workflow.version)
        row.definition = workflow.definition
        session.flush()
        return workflow, "edited"
    workflow.version += 1
    session.add(
        WorkflowVersion(
            workflow_id=workflow.id, version=workflow.version, definition=workflow.definition
        )
    )
    session.flush()
    return workflow, "new_version"


def activate(session: Session, name: str, registry: Registry) -> Workflow:
    """Make a workflow active after checking it again (its credentials may have gone)."""
    workflow = get(session, name)
    load(workflow.definition, check_env(session, registry))
    workflow.state, workflow.updated_at = "active", utcnow()
    session.flush()
    return workflow


def deactivate(session: Session, name: str) -> Workflow:
    """Stop a workflow from running on triggers (its runs and versions are kept)."""
    workflow = get(session, name)
    if workflow.state == "active":
        workflow.state, workflow.updated_at = "inactive", utcnow()
        session.flush()
    return workflow


def version_doc(session: Session, workflow: Workflow, version: int) -> dict[str, Any]:
    """The definition a version of a workflow froze."""
    return dict(_version_row(session, workflow, version).definition)


def workflow_to_dict(workflow: Workflow) -> dict[str, Any]:
    """The stable JSON shape of `invsync workflow list --format json`."""
    doc = workflow.definition
    return {
        "name": workflow.name,
        "description": workflow.description,
        "object": workflow.object_type,
        "state": workflow.state,
        "version": workflow.version,
        "trigger": doc.get("trigger"),
        "run_mode": doc.get("run_mode", "autopilot"),
        "blocks": len(doc.get("blocks") or []),
        "created_at": iso(workflow.created_at),
        "updated_at": iso(workflow.updated_at),
    }


def _store(workflow: Workflow, definition: Definition) -> None:
    """Write a definition's fields onto the workflow."""
    workflow.description = definition.description
    workflow.object_type = definition.object
    workflow.definition = _plain(definition.doc)
    workflow.updated_at = utcnow()


def _plain(doc: Mapping[str, Any]) -> dict[str, Any]:
    """A JSON round trip of the document, so stored and compared forms are the same."""
    return dict(json.loads(json.dumps(doc)))


def _has_run(session: Session, workflow: Workflow) -> bool:
    """Whether the workflow's current version has ever run (a dry run counts)."""
    stmt = select(func.count()).where(
        WorkflowRun.workflow_id == workflow.id, WorkflowRun.version == workflow.version
    )
    return bool(session.scalar(stmt))


def _version_row(session: Session, workflow: Workflow, version: int) -> WorkflowVersion:
    """The stored row of one version."""
    stmt = select(WorkflowVersion).where(
        WorkflowVersion.workflow_id == workflow.id, WorkflowVersion.version == version
    )
    return session.scalars(stmt).one()
