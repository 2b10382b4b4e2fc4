"""Sync runs over the API: start one (in the background, or as a dry run answered at once),
list an integration's runs, show a run with its errors, cancel a running run, approve a held one.
"""

from __future__ import annotations

from typing import Any

from flask import url_for

from connector import integrations, ledger
from connector.dryrun_queue import dry_run_dict, get_dry_run
from connector.reconcile import approve
from inventory.timeutil import utcnow
from web.api import bp, schemas
from web.api.spec import body, operation, query
from web.background import start_dry_run, start_sync
from web.http import db
from web.security import current_account, requires


@bp.post("/integrations/<name>/runs")
@requires("admin")
@operation(
    "runs", body=schemas.RunStart, body_optional=True, errors=(409,),
    responses={202: (schemas.Run, schemas.DryRun)}, headers={202: ("Location",)},
)  # fmt: skip
def start_run(name: str) -> tuple[dict[str, Any], int, dict[str, str]]:
    """Queue a sync for a worker: 202, the run and its Location. With `dry_run`, queue a dry run
    instead: 202, the dry run (its report comes once a worker has read Lever) and its Location."""
    options = body(schemas.RunStart(), optional=True)
    if options["dry_run"]:
        dry_run_id = start_dry_run(name)
        db().expire_all()  # the dry run was recorded in a session of its own
        asked = dry_run_dict(db(), get_dry_run(db(), dry_run_id))
        location = url_for("api.get_dry_run_of", id=dry_run_id)
        return schemas.DryRun().dump(asked), 202, {"Location": location}
    run_id = start_sync(name, trigger="api")
    db().expire_all()  # the run was recorded in a session of its own
    run = ledger.run_dict(ledger.get_run(db(), run_id))
    return schemas.Run().dump(run), 202, {"Location": url_for("api.get_run", id=run_id)}


@bp.get("/dry-runs/<int(max=2147483647):id>")
@requires("viewer")
@operation("runs", schemas.DryRun)
def get_dry_run_of(id: int) -> dict[str, Any]:
    """Show a dry run: its status and, once a worker has read Lever, what a real sync would do."""
    return dict(schemas.DryRun().dump(dry_run_dict(db(), get_dry_run(db(), id))))


@bp.get("/integrations/<name>/runs")
@requires("viewer")
@operation("runs", schemas.RunList, query=schemas.LimitQuery)
def list_runs(name: str) -> dict[str, Any]:
    """List an integration's runs, newest first."""
    limit = query(schemas.LimitQuery())["limit"]
    integrations.get(db(), name)
    runs = ledger.iter_runs(db(), name)
    items = [ledger.run_dict(run) for run, _ in zip(runs, range(limit), strict=False)]
    return dict(schemas.RunList().dump({"items": items}))


@bp.get("/runs/<int(max=2147483647):id>")
@requires("viewer")
@operation("runs", schemas.RunDetail)
def get_run(id: int) -> dict[str, Any]:
    """Show a run with every per-record error."""
    return dict(schemas.RunDetail().dump(ledger.run_detail(db(), ledger.get_run(db(), id))))


@bp.post("/runs/<int(max=2147483647):id>/cancel")
@requires("admin")
@operation("runs", schemas.Run)
def cancel_run(id: int) -> dict[str, Any]:
    """Ask a running run to stop after its page (closed at once if its process is gone)."""
    run = ledger.get_run(db(), id)
    ledger.request_cancel(db(), run, utcnow())
    return dict(schemas.Run().dump(ledger.run_dict(ledger.get_run(db(), id))))


@bp.post("/runs/<int(max=2147483647):id>/approve")
@requires("admin")
@operation("runs", schemas.Run)
def approve_run(id: int) -> dict[str, Any]:
    """Approve a held run, so the deactivations it holds back are applied."""
    account = current_account()
    assert account is not None
    run = ledger.get_run(db(), id)
    ledger.require_held(run)
    approve(db(), run, approver=account.name, now=utcnow())
    return dict(schemas.Run().dump(ledger.run_dict(run)))
