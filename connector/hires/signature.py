"""Lever's webhook signature: HMAC-SHA256 of `token + triggeredAt`, keyed by the webhook's
signature token, hex digest in the body's `signature`.

`verify` reads a request body as Lever sends it and refuses, before anything is stored, a body
that is not Lever's shape (400), a signature that does not match (401, compared in constant
time) and a `triggeredAt` older (or further ahead) than the allowed age (401). A token seen
before is refused by `connector.hires.events`, which knows the tokens stored.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from connector.errors import WebhookMalformed, WebhookRefused
from inventory.timeutil import from_ms

__all__ = ["DEFAULT_MAX_AGE", "Delivery", "sign", "verify"]

DEFAULT_MAX_AGE = 300.0  # seconds: Lever delivers at once, so five minutes is generous
MAX_TOKEN = 200


@dataclass(frozen=True)
class Delivery:
    """A webhook body that passed every check."""

    event: str
    token: str
    triggered_at: datetime
    data: dict[str, Any]

    @property
    def opportunity_id(self) -> str | None:
        """The opportunity the event is about, when it names one."""
        value = self.data.get("opportunityId")
        return value if isinstance(value, str) and value else None


def sign(signature_token: str, token: str, triggered_at: int) -> str:
    """The signature Lever puts on a webhook: hex HMAC-SHA256 of token + triggeredAt."""
    message = (token + str(triggered_at)).encode()
    return hmac.new(signature_token.encode(), message, hashlib.sha256).hexdigest()


def verify(body: bytes, signature_token: str, now: datetime, max_age: float) -> Delivery:
    """The delivery in a request body, once its shape, signature and age are right."""
    doc = _parse(body)
    expected = sign(signature_token, doc["token"], doc["triggeredAt"])
    if not hmac.compare_digest(expected.encode(), doc["signature"].strip().lower().encode()):
        raise WebhookRefused("the webhook signature does not match: check the signature token")
    triggered = from_ms(doc["triggeredAt"])
    if abs((now - triggered).total_seconds()) > max_age:
        raise WebhookRefused(
            f"the webhook was triggered at {triggered:%Y-%m-%dT%H:%M:%SZ}, more than "
            f"{max_age:g} s from now: refused as stale"
        )
    return Delivery(doc["event"], doc["token"], triggered, doc["data"])


def _parse(body: bytes) -> dict[str, Any]:
    """The JSON body with Lever's keys of the right types, or a 400 naming what is wrong."""
    try:
        doc = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise WebhookMalformed("the webhook body is not JSON") from None
    if not isinstance(doc, dict):
        raise WebhookMalformed("the webhook body is not a JSON object")
    for key, kind in (("token", str), ("signature", str), ("event", str), ("data", dict)):
        if not isinstance(doc.get(key), kind) or not doc[key]:
            raise WebhookMalformed(f"the webhook body has no {key!r}")
    stamp = doc.get("triggeredAt")
    if not isinstance(stamp, int) or isinstance(stamp, bool) or stamp <= 0:
        raise WebhookMalformed("the webhook body has no 'triggeredAt' in milliseconds")
    if len(doc["token"]) > MAX_TOKEN or len(doc["event"]) > 60:
        raise WebhookMalformed("the webhook body's token or event is too long")
    return doc
