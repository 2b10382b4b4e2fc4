"""`POST /hooks/lever/<integration>`: Lever's signed webhooks for a `lever-hires` integration.

No account signs in here: each request proves itself with Lever's signature (HMAC-SHA256 of
`token + triggeredAt`, keyed by the webhook's signature token from the vault), a `triggeredAt`
no older than the integration's allowed age (5 minutes by default), and a token not seen before.
A verified event is stored and answered 200 at once; a worker processes it (`web.tasks`). A bad
signature, a stale time or a replay is 401, a malformed body 400, an integration that takes no
webhooks 404 and one that is paused 409, each with one line in the API's error envelope, and
nothing stored. Lever retries a non-2xx answer, so a refusal for a passing cause (paused) is
delivered again later.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, request, url_for

from connector import integrations
from connector.hires.events import receive
from connector.hires.signature import DEFAULT_MAX_AGE
from inventory.db import transaction
from inventory.errors import NotFoundError
from inventory.models import Integration
from inventory.settings import Settings
from inventory.timeutil import utcnow
from vault.keys import load_keyring
from vault.store import Vault
from web.appstate import app_state
from web.background import start_hire_event
from web.errors import HookClosedError
from web.security import signed

__all__ = ["bp", "webhook_url"]

bp = Blueprint("hooks", __name__, url_prefix="/hooks")


@bp.post("/lever/<name>")
@signed
def lever(name: str) -> tuple[dict[str, Any], int]:
    """Store a verified webhook event of the integration and hand it to a worker."""
    state = app_state()
    body = request.get_data(cache=False)
    with transaction(state.sessions) as session:
        integ = _taking_webhooks(session.get(Integration, _id_of(session, name)), name)
        token = Vault(session, load_keyring(state.settings)).get(integ.options["webhook_secret"])
        max_age = float(integ.options.get("webhook_max_age") or DEFAULT_MAX_AGE)
        event = receive(session, integ, body, token.username, utcnow(), max_age)
        event_id = event.id
    start_hire_event(event_id, name)
    return {"received": True, "event_id": event_id}, 200


def _id_of(session: Any, name: str) -> int:
    """The integration's id, or a 404 that names no more than the request did."""
    try:
        return integrations.get(session, name).id
    except NotFoundError:
        raise NotFoundError(f"no integration {name!r} takes webhooks here") from None


def _taking_webhooks(integ: Integration | None, name: str) -> Integration:
    """The integration, once it is a hires integration with a webhook secret, and active."""
    if integ is None or integ.connector != integrations.HIRES:
        raise NotFoundError(f"no integration {name!r} takes webhooks here")
    if not integ.options.get("webhook_secret"):
        raise NotFoundError(
            f"integration {name!r} takes no webhooks: give it --webhook-secret CRED first"
        )
    if integ.state != "active":
        raise HookClosedError(
            f"integration {name!r} is {integ.state}: launch or resume it to receive hires"
        )
    return integ


def webhook_url(settings: Settings, name: str) -> str:
    """The URL to paste into Lever for an integration's webhooks."""
    path = url_for("hooks.lever", name=name)
    if settings.public_url:
        return settings.public_url.rstrip("/") + path
    return url_for("hooks.lever", name=name, _external=True)
