"""Long work started from a browser or the API: queued for the task engine, answered with the run.

The request returns as soon as the run is recorded as `queued` (or with the reason it cannot
start: a sync not launched or already running, a workflow that is a draft, a missing
credential); a worker, or on SQLite the serving process's own small pool (`web.tasks`), starts
it, and its progress and result are in the run ledger like any other run. A second sync request
while a run waits is answered with that run; workflow runs each wait their turn.
"""

from __future__ import annotations

from connector.dryrun_queue import queue_dry_run
from connector.hires.events import integration_name, rerun
from inventory.db import transaction
from web.appstate import AppState, app_state
from web.tasks import Runtime, TaskEngine, queue_sync, queue_workflow_run
from workflows.approvals import Decision, accept, approval_workflow

__all__ = [
    "rerun_hire_event", "start_approval", "start_dry_run", "start_hire_event", "start_sync",
    "start_workflow",
]  # fmt: skip


def start_sync(name: str, *, trigger: str = "web") -> int:
    """Queue a sync of the named integration on the app's task engine; the waiting run's id."""
    state = app_state()
    return queue_sync(_runtime(state), _engine(state), name, trigger)


def start_workflow(name: str, *, dry_run: bool, trigger: str = "manual") -> int:
    """Queue a run (or a dry run) of the named workflow on the app's task engine; its id."""
    state = app_state()
    return queue_workflow_run(
        _runtime(state), _engine(state), name, dry_run=dry_run, trigger=trigger
    )


def start_approval(approval_id: int, *, decided_by: str) -> Decision:
    """Record a person's approval (refused unless pending, of an active workflow) and hand its
    sending to the app's task engine; the decision as it stands (`approving`)."""
    state = app_state()
    with transaction(state.sessions) as session:
        decision = accept(session, approval_id, decided_by=decided_by)
        workflow = approval_workflow(session, approval_id)
    _engine(state).defer_approval(approval_id, workflow)  # after the commit: a worker sees it
    return decision


def start_dry_run(name: str) -> int:
    """Record a dry run of the integration (refused at once when it cannot be dry-run) and hand
    it to the app's task engine; its id."""
    state = app_state()
    with transaction(state.sessions) as session:
        dry_run_id = queue_dry_run(session, name)
    _engine(state).defer_dry_run(dry_run_id)  # after the commit: a worker sees it
    return dry_run_id


def start_hire_event(event_id: int, integration: str) -> None:
    """Hand a stored (committed) hiring event to the app's task engine."""
    _engine(app_state()).defer_hire_event(event_id, integration)


def rerun_hire_event(event_id: int) -> None:
    """Queue a finished hiring event again (refused while it waits or runs) and hand it over."""
    state = app_state()
    with transaction(state.sessions) as session:
        name = integration_name(session, rerun(session, event_id))
    _engine(state).defer_hire_event(event_id, name)  # after the commit: a worker sees it


def _runtime(state: AppState) -> Runtime:
    """What the queued task needs: the app's session factory and settings."""
    return Runtime(state.sessions, state.settings)


def _engine(state: AppState) -> TaskEngine:
    """The app's task engine."""
    assert state.tasks is not None, "the app was built without a task engine"
    return state.tasks
