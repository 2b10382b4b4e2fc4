"""`/integrations/<name>/hires`: a `lever-hires` integration's webhook URL and hiring events.

The admin copies the URL into Lever (Settings › Integrations and API › Webhooks), with the
signature token Lever shows kept in the vault under the integration's `--webhook-secret`. The
events received (webhooks) or found (polling) are listed newest first with their outcome or
error; a finished event can be run again once its cause is fixed in Lever. The list refreshes
itself while an event waits or is being processed.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, url_for

from connector import integrations
from connector.hires.events import event_dict, get_event, list_events
from connector.hires.poll import CURSOR
from inventory.errors import NotFoundError
from inventory.models import Integration
from inventory.statuses import HireEventStatus
from inventory.timeutil import from_ms, iso
from web.background import rerun_hire_event
from web.http import db, instance_settings
from web.security import requires
from web.views.hooks import webhook_url
from web.views.integrations import Page

bp = Blueprint("hires", __name__)

SHOWN = 100
LIVE = (HireEventStatus.QUEUED, HireEventStatus.PROCESSING)


@bp.get("/integrations/<name>/hires")
@requires("admin")
def page(name: str) -> Page:
    """The webhook URL, the polling state and the events of a hires integration."""
    return render_template("integrations/hires.html", **_context(_hires(name)))


@bp.get("/integrations/<name>/hires/events")
@requires("admin")
def events(name: str) -> Page:
    """The events table alone, which the page polls while an event is unfinished."""
    return render_template("integrations/_hire_events.html", **_context(_hires(name)))


@bp.post("/integrations/<name>/hires/<int:event_id>/rerun")
@requires("admin")
def rerun(name: str, event_id: int) -> Page:
    """Queue a finished event again for a worker."""
    if get_event(db(), event_id).integration_id != _hires(name).id:
        raise NotFoundError(f"hiring event {event_id} is not an event of {name!r}")
    db().rollback()  # the rerun is recorded in a session of its own
    rerun_hire_event(event_id)
    flash(f"hiring event {event_id} queued again", "success")
    return redirect(url_for("hires.page", name=name))


def _hires(name: str) -> Integration:
    """The named integration, once it is a hires integration."""
    integ = integrations.get(db(), name)
    if integ.connector != integrations.HIRES:
        raise NotFoundError(f"integration {name!r} is not a {integrations.HIRES} integration")
    return integ


def _context(integ: Integration) -> dict[str, Any]:
    """What the page and its live table show."""
    shown = [event_dict(e, integ.name) for e, _ in list_events(db(), integ, SHOWN)]
    return {
        "integ": integ,
        "events": shown,
        "live": any(e["status"] in LIVE for e in shown),
        "webhook_url": webhook_url(instance_settings(), integ.name),
        "webhook_secret": integ.options.get("webhook_secret"),
        "poll": integ.options.get("poll", True),
        "polled_until": _when(integ.options.get(CURSOR)),
        "email_format": integ.options.get("email_format"),
    }


def _when(ms: Any) -> str | None:
    """Lever milliseconds as ISO-8601 UTC, or None."""
    return iso(from_ms(ms)) if isinstance(ms, int) else None
