"""`/integrations`: create, map, filter, schedule, launch and run integrations; run history.

Every change goes through the connector's services (the same ones `invsync integration` uses);
a refused change re-renders the page with the service's one-line reason and the matching status.
Syncs started here run in the background (`web.background`) and are followed on the run page.
"""

from __future__ import annotations

import json
from itertools import islice
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from sqlalchemy import select
from werkzeug.wrappers import Response

from connector import integrations, ledger, schedules
from connector.catalogue import (
    CUSTOM_PREFIX,
    HIRE_FIELDS,
    HIRE_TARGETS,
    LEVER_FIELDS,
    PERSON_TARGETS,
    source_by_label_or_path,
    unique_targets,
)
from connector.dryrun_queue import UNFINISHED as DRY_RUN_UNFINISHED
from connector.dryrun_queue import get_dry_run
from connector.errors import AlreadyRunningError, LaunchError
from connector.mapping import TRANSFORMS, Entry, entry_from_dict, load_entries
from connector.preview import preview
from connector.reconcile import approve
from inventory.errors import ConfigError, InvsyncError, NotFoundError
from inventory.models import CustomField, Integration, SyncRun
from inventory.statuses import SyncRunStatus
from inventory.timeutil import utcnow
from vault.keys import load_keyring
from vault.store import Vault
from web.background import start_dry_run, start_sync
from web.failures import status_of
from web.http import db, instance_settings
from web.security import current_account, requires

bp = Blueprint("integrations", __name__)

Page = str | tuple[str, int] | Response
MODES = {"users": "People only", "users+saas_users": "People + SaaS users"}
PREFERENCES = {
    "create_update": "Create & update",
    "create_only": "Create only",
    "update_only": "Update only",
}
SOURCE_KINDS = ("path", "constant", "template")
BLANK_ROWS = 3
HISTORY = 20
DEFAULT_RPS = 10.0


# -- the list and creating ---------------------------------------------------------------------


@bp.get("/integrations")
@requires("admin")
def index() -> Page:
    """Integrations with their state, mode, preference, schedule and last run."""
    rows = [_summary(integ) for integ in integrations.list_all(db())]
    return render_template("integrations/index.html", rows=rows)


def _summary(integ: Integration) -> dict[str, Any]:
    """One line of the list: the integration's JSON shape, its schedule and its last run."""
    last = next(ledger.iter_runs(db(), integ.name), None)
    return {
        **integrations.to_dict(integ),
        "schedule_text": schedules.describe(schedules.of(integ)),
        "last_run": ledger.run_dict(last) if last is not None else None,
    }


@bp.get("/integrations/new")
@requires("admin")
def new() -> Page:
    """The form of a new integration."""
    return _new_page()


def _new_page(error: str | None = None, status: int = 200) -> Page:
    """The create form, keeping what was typed when a create was refused."""
    defaults = {
        "base_url": instance_settings().lever_base_url,
        "mode": "users+saas_users",
        "preference": "create_update",
        "default_role": "Employee",
        "max_rps": "10",
        "deactivate_missing": "on",
    }
    form = {**defaults, **request.form.to_dict()} if request.method == "POST" else defaults
    page = render_template("integrations/new.html", form=form, error=error, **_choices())
    return page, status


def _choices() -> dict[str, Any]:
    """What the settings forms offer: credentials, modes and preferences."""
    names = [c.name for c in Vault(db(), load_keyring(instance_settings())).list()]
    return {"credential_names": names, "modes": MODES, "preferences": PREFERENCES}


@bp.post("/integrations")
@requires("admin")
def create() -> Page:
    """Create a draft integration, then open its page to map it."""
    name = request.form.get("name", "").strip()
    try:
        settings = _settings_form()
        integrations.create(db(), integrations.NewIntegration(name=name, **settings))
    except InvsyncError as exc:
        db().rollback()
        return _new_page(str(exc), status_of(exc))
    flash(f"integration {name!r} created as a draft: map it, then launch it", "success")
    return redirect(url_for("integrations.show", name=name))


def _settings_form() -> dict[str, Any]:
    """The settings a create or settings form sent, in the shape the services take."""
    form = request.form
    return {
        "credential": form.get("credential", "").strip(),
        "saas_users": form.get("mode", "users+saas_users") == "users+saas_users",
        "preference": form.get("preference", "create_update"),
        "base_url": form.get("base_url", "").strip() or instance_settings().lever_base_url,
        "default_role": form.get("default_role", "").strip() or "Employee",
        "max_rps": _or(_number("max_rps", float, "requests per second"), DEFAULT_RPS),
        "deactivate_missing": form.get("deactivate_missing") == "on",
        "max_deactivate": _number("max_deactivate", int, "max deactivate"),
    }


def _or(value: Any, default: Any) -> Any:
    """The value, or the default when the field was left blank."""
    return default if value is None else value


def _number(field: str, kind: type[int] | type[float], label: str) -> Any:
    """An optional number from the form; blank is None, anything else not a number is refused."""
    text = request.form.get(field, "").strip()
    if not text:
        return None
    try:
        return kind(text)
    except ValueError:
        raise ConfigError(f"{label}: {text!r} is not a number") from None


# -- the integration page ----------------------------------------------------------------------


@bp.get("/integrations/<name>")
@requires("admin")
def show(name: str) -> Page:
    """Settings, mapping, filters, schedule, actions and run history of one integration."""
    return _show(integrations.get(db(), name))


def _show(
    integ: Integration,
    error: str | None = None,
    status: int = 200,
    missing: list[str] | None = None,
) -> Page:
    """The integration page, with a refusal (and what a launch still needs) when there is one."""
    page = render_template(
        "integrations/show.html",
        integ=integ,
        doc=integrations.to_dict(integ),
        schedule=schedules.schedule_dict(integ),
        schedule_text=schedules.text(integ),
        still_needed=integrations.missing_for_launch(integ),
        mapping_rows=_mapping_rows(integ),
        targets=_targets(integ),
        sources=HIRE_FIELDS if integ.connector == integrations.HIRES else LEVER_FIELDS,
        transforms=sorted(TRANSFORMS),
        source_kinds=SOURCE_KINDS,
        sync_keys=sorted(unique_targets() | set(integ.sync_keys or ())),
        filters_text=_filters_text(integ),
        form=_settings_values(integ),
        runs=[ledger.run_dict(r) for r in islice(ledger.iter_runs(db(), integ.name), HISTORY)],
        error=error,
        missing=missing,
        **_choices(),
    )
    return page, status


def _settings_values(integ: Integration) -> dict[str, Any]:
    """The integration's settings as the settings form shows them."""
    return {
        "credential": integ.credential_name,
        "mode": "users+saas_users" if integ.saas_users else "users",
        "preference": integ.preference,
        "base_url": integ.base_url,
        "default_role": integ.options.get("default_role", "Employee"),
        "max_rps": integ.options.get("max_rps", DEFAULT_RPS),
        "deactivate_missing": "on" if integ.deactivate_missing else "",
        "max_deactivate": integ.max_deactivate,
    }


def _refused(name: str, exc: InvsyncError) -> Page:
    """Undo the request's changes and show the page with the one-line reason."""
    db().rollback()
    return _show(integrations.get(db(), name), str(exc), status_of(exc))


def _done(name: str, message: str) -> Response:
    """Go back to the integration page with a note of what changed (the request commits it)."""
    flash(message, "success")
    return redirect(url_for("integrations.show", name=name))


@bp.post("/integrations/<name>/settings")
@requires("admin")
def save_settings(name: str) -> Page:
    """Change the integration's settings, checked as strictly as on create."""
    integ = integrations.get(db(), name)
    try:
        integrations.update(db(), integ, _settings_form())
    except InvsyncError as exc:
        return _refused(name, exc)
    return _done(name, f"settings of {name!r} saved")


# -- mapping -----------------------------------------------------------------------------------


def _targets(integ: Integration) -> list[str]:
    """Every target a mapping line may write: People fields (a hire's, for a hires
    integration), then the existing custom fields."""
    custom = db().scalars(select(CustomField.name).order_by(CustomField.name))
    fields = HIRE_TARGETS if integ.connector == integrations.HIRES else PERSON_TARGETS
    return [t.name for t in fields] + [f"{CUSTOM_PREFIX}{n}" for n in custom]


def _mapping_rows(integ: Integration) -> list[dict[str, str]]:
    """The mapping as editable rows (target, kind, source, transform), then blank rows to add."""
    try:
        entries = load_entries(integ.mapping)
    except InvsyncError:
        entries = []
    rows = [_row_of(e) for e in entries]
    blank = {"target": "", "kind": "path", "source": "", "transform": ""}
    return rows + [dict(blank) for _ in range(BLANK_ROWS)]


def _row_of(entry: Entry) -> dict[str, str]:
    """One mapping entry as form values."""
    if entry.path is not None:
        kind, source = "path", entry.path
    elif entry.template is not None:
        kind, source = "template", entry.template
    else:
        kind, source = "constant", "" if entry.constant is None else str(entry.constant)
    return {
        "target": entry.target,
        "kind": kind,
        "source": source,
        "transform": entry.transform or "",
    }


@bp.post("/integrations/<name>/mapping")
@requires("admin")
def save_mapping(name: str) -> Page:
    """Replace the mapping with the table's rows (ticked rows removed) and set the sync key."""
    integ = integrations.get(db(), name)
    try:
        entries = [entry_from_dict(doc) for doc in _mapping_docs()]
        _store_mapping(integ, entries, request.form.get("sync_key", "email"))
    except InvsyncError as exc:
        return _refused(name, exc)
    return _done(name, f"mapping of {name!r} saved ({len(entries)} fields)")


def _mapping_docs() -> list[dict[str, Any]]:
    """The submitted rows as stored-mapping documents, skipping blank and removed rows."""
    form = request.form
    rows = zip(
        form.getlist("target"), form.getlist("kind"), form.getlist("source"),
        form.getlist("transform"), strict=False,
    )  # fmt: skip
    removed = set(form.getlist("remove"))
    return [
        _doc(target.strip(), kind, source, transform)
        for i, (target, kind, source, transform) in enumerate(rows)
        if target.strip() and str(i) not in removed
    ]


def _doc(target: str, kind: str, source: str, transform: str) -> dict[str, Any]:
    """One row as a mapping document: a path (catalogue labels accepted), constant or template."""
    if kind == "constant":
        doc: dict[str, Any] = {"target": target, "constant": source}
    elif kind == "template":
        doc = {"target": target, "template": source}
    elif source.strip():
        doc = {"target": target, "path": source_by_label_or_path(source).path}
    else:
        raise ConfigError(f"mapping for {target!r}: choose the Lever field it reads")
    return doc | ({"transform": transform} if transform else {})


def _store_mapping(integ: Integration, entries: list[Entry], sync_key: str) -> None:
    """Save a checked mapping and sync key, creating the custom fields it writes."""
    if sync_key not in unique_targets():
        raise ConfigError(f"sync key {sync_key!r} is not a unique field: use email")
    integrations.check_targets(integ, [e.target for e in entries])
    integrations.ensure_custom_fields(db(), [e.custom_name for e in entries if e.custom_name])
    integ.mapping = [e.to_dict() for e in entries]
    integ.sync_keys = [sync_key]
    integ.updated_at = utcnow()


@bp.post("/integrations/<name>/smart-mapping")
@requires("admin")
def smart_mapping(name: str) -> Page:
    """Replace the mapping with what Smart Mapping proposes from Lever's field names and types."""
    integ = integrations.get(db(), name)
    role = request.form.get("default_role", "").strip() or None
    entries = integrations.apply_smart_mapping(db(), integ, role)
    return _done(name, f"Smart Mapping mapped {len(entries)} fields of {name!r}")


@bp.get("/integrations/<name>/preview")
@requires("admin")
def preview_page(name: str) -> Page:
    """The first Lever records as People and SaaS users would get them (nothing is written)."""
    integ = integrations.get(db(), name)
    missing = integrations.missing_for_launch(integ)
    if missing:
        error = f"map the integration before previewing it; still needed: {'; '.join(missing)}"
        return _show(integ, error, 400, missing)
    try:
        rows = preview(db(), instance_settings(), integ)
    except InvsyncError as exc:
        return _show(integ, str(exc), status_of(exc))
    columns = _columns(row.person for row in rows)
    saas_columns = _columns(row.saas_user or {} for row in rows)
    return render_template(
        "integrations/preview.html", integ=integ, rows=rows, columns=columns,
        saas_columns=saas_columns,
    )  # fmt: skip


def _columns(values: Any) -> list[str]:
    """Every key met in a run of dicts, in first-met order."""
    seen: dict[str, None] = {}
    for doc in values:
        seen.update(dict.fromkeys(doc))
    return list(seen)


# -- filters, schedule, launch -----------------------------------------------------------------


def _filters_text(integ: Integration) -> str:
    """The integration's filter rule as indented JSON ('' for none)."""
    return "" if integ.filters is None else json.dumps(integ.filters, indent=2)


@bp.post("/integrations/<name>/filters")
@requires("admin")
def save_filters(name: str) -> Page:
    """Set the rule choosing which Lever users sync (empty: all of them)."""
    integ = integrations.get(db(), name)
    text = request.form.get("filters", "").strip()
    try:
        rule = _json(text) if text else None
        integrations.update(db(), integ, {"filters": rule})
    except InvsyncError as exc:
        return _refused(name, exc)
    return _done(name, f"filters of {name!r} {'saved' if text else 'cleared'}")


def _json(text: str) -> Any:
    """A JSON document typed in a form, or a one-line ConfigError."""
    try:
        return json.loads(text)
    except ValueError as exc:
        raise ConfigError(f"filters: not valid JSON ({exc})") from None


@bp.post("/integrations/<name>/schedule")
@requires("admin")
def save_schedule(name: str) -> Page:
    """Set when the integration syncs: daily at HH:MM, every N{s,m,h,d} or a crontab line."""
    integ = integrations.get(db(), name)
    form = request.form
    try:
        schedules.change(
            integ, kind=form.get("kind") or None, expression=form.get("expression", "").strip(),
            tz=form.get("tz", "").strip() or None,
        )  # fmt: skip
    except InvsyncError as exc:
        return _refused(name, exc)
    return _done(name, f"{name!r} syncs {schedules.text(integ)}")


@bp.post("/integrations/<name>/pause")
@requires("admin")
def pause(name: str) -> Page:
    """Stop scheduled runs, keeping the schedule."""
    return _set_paused(name, True)


@bp.post("/integrations/<name>/resume")
@requires("admin")
def resume(name: str) -> Page:
    """Start scheduled runs again."""
    return _set_paused(name, False)


def _set_paused(name: str, paused: bool) -> Page:
    """Pause or resume an integration's schedule."""
    integ = integrations.get(db(), name)
    try:
        schedules.change(integ, paused=paused)
    except InvsyncError as exc:
        return _refused(name, exc)
    return _done(name, f"{name!r} syncs {schedules.text(integ)}")


@bp.post("/integrations/<name>/launch")
@requires("admin")
def launch(name: str) -> Page:
    """Leave draft; a refusal lists everything still missing."""
    integ = integrations.get(db(), name)
    try:
        integrations.launch(integ)
    except LaunchError:
        missing = integrations.missing_for_launch(integ)
        return _show(integ, f"{name!r} stays a draft until these are done", 400, missing)
    return _done(name, f"{name!r} is active: it syncs {schedules.text(integ)}")


# -- runs --------------------------------------------------------------------------------------


@bp.post("/integrations/<name>/run")
@requires("admin")
def run_now(name: str) -> Page:
    """Start a sync in the background and follow it on its run page."""
    integ = integrations.get(db(), name)
    try:
        run_id = start_sync(name, trigger="web")
    except AlreadyRunningError as exc:
        return _show(integ, str(exc), 409)
    except InvsyncError as exc:
        return _show(integ, str(exc), status_of(exc))
    return redirect(url_for("integrations.run_page", name=name, run_id=run_id))


@bp.post("/integrations/<name>/dry-run")
@requires("admin")
def dry_run_page(name: str) -> Page:
    """Queue a dry run for a worker and follow it on its page (refused at once when the
    integration cannot be dry-run yet)."""
    integ = integrations.get(db(), name)
    db().rollback()  # the dry run is recorded in a transaction of its own, before the hand-over
    try:
        dry_run_id = start_dry_run(name)
    except InvsyncError as exc:
        return _show(integ, str(exc), status_of(exc))
    return redirect(url_for("integrations.dry_run_result", name=name, dry_run_id=dry_run_id))


@bp.get("/integrations/<name>/dry-runs/<int:dry_run_id>")
@requires("admin")
def dry_run_result(name: str, dry_run_id: int) -> Page:
    """A dry run: live while a worker reads Lever, then what a real sync would change."""
    asked = get_dry_run(db(), dry_run_id)
    integ = integrations.get(db(), name)
    if asked.integration_id != integ.id:
        raise NotFoundError(f"dry run {dry_run_id} is not a dry run of integration {name!r}")
    return render_template(
        "integrations/dry_run.html", integ=integ, asked=asked, report=asked.report,
        live=asked.status in DRY_RUN_UNFINISHED,
    )  # fmt: skip


def _run_of(name: str, run_id: int) -> SyncRun:
    """A run of this integration, or a 404 naming the integration's runs."""
    run = ledger.get_run(db(), run_id)
    if run.integration.name != name:
        raise NotFoundError(f"run {run_id} is not a run of integration {name!r}")
    return run


def _run_context(run: SyncRun) -> dict[str, Any]:
    """What the run page and its live fragment show."""
    counts = run.counts or {}
    return {
        "run": ledger.run_detail(db(), run),
        "reconcile": counts.get("reconcile"),
        "pending": len(run.pending or ()) if run.status == SyncRunStatus.HELD else 0,
        "approved_by": run.approved_by,
        "worker": run.owner,  # which process ran it (hostname:pid): runs spread across workers
        "name": run.integration.name,
    }


@bp.get("/integrations/<name>/runs/<int:run_id>")
@requires("admin")
def run_page(name: str, run_id: int) -> Page:
    """One run: status, counts, per-record errors; it refreshes itself while running."""
    return render_template("integrations/run.html", **_run_context(_run_of(name, run_id)))


@bp.get("/integrations/<name>/runs/<int:run_id>/live")
@requires("admin")
def run_live(name: str, run_id: int) -> Page:
    """The run's live part alone, which the run page polls every 2 s while the run goes on."""
    return render_template("integrations/_run_live.html", **_run_context(_run_of(name, run_id)))


@bp.post("/integrations/<name>/runs/<int:run_id>/cancel")
@requires("admin")
def cancel(name: str, run_id: int) -> Page:
    """Ask a running run to stop after the page it is reading."""
    run = _run_of(name, run_id)
    waiting = run.status == SyncRunStatus.QUEUED
    closed = ledger.request_cancel(db(), run, utcnow())
    if closed:
        why = "it had not started" if waiting else "the process running it is gone"
        flash(f"run {run_id} closed as cancelled: {why}", "success")
    else:
        flash(f"cancel requested: run {run_id} stops after the page it is reading", "success")
    return redirect(url_for("integrations.run_page", name=name, run_id=run_id))


@bp.post("/integrations/<name>/runs/<int:run_id>/approve")
@requires("admin")
def approve_run(name: str, run_id: int) -> Page:
    """Apply the deactivations a held run keeps back, in the approver's name."""
    run = _run_of(name, run_id)
    account = current_account()
    ledger.require_held(run)
    outcome = approve(db(), run, approver=account.name if account else "unknown", now=utcnow())
    flash(
        f"run {run_id} approved: {outcome.deactivated} deactivated, {outcome.deleted} deleted",
        "success",
    )
    return redirect(url_for("integrations.run_page", name=name, run_id=run_id))
