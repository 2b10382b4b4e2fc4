"""Lever's webhook signature: the right key and body pass; anything else is refused unstored."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from connector.errors import WebhookMalformed, WebhookRefused
from connector.hires.signature import sign, verify

KEY = "signature-token-of-the-webhook"
NOW = datetime(2027, 1, 4, 9, 0, tzinfo=UTC)
MAX_AGE = 300.0


def body(
    *, key: str = KEY, at: datetime = NOW, token: str = "tok-1", **changes: Any
) -> dict[str, Any]:
    triggered = int(at.timestamp() * 1000)
    doc = {
        "triggeredAt": triggered,
        "event": "candidateHired",
        "token": token,
        "signature": sign(key, token, triggered),
        "data": {"opportunityId": "opp-1", "candidateId": "c-1"},
    }
    return doc | changes


def raw(doc: Any) -> bytes:
    return json.dumps(doc).encode()


def test_a_signed_fresh_body_passes() -> None:
    delivery = verify(raw(body()), KEY, NOW, MAX_AGE)
    assert (delivery.event, delivery.token, delivery.opportunity_id) == (
        "candidateHired", "tok-1", "opp-1",
    )  # fmt: skip
    assert delivery.triggered_at == NOW


def test_the_signature_is_hex_hmac_sha256_of_token_and_triggered_at() -> None:
    import hashlib
    import hmac

    expected = hmac.new(b"k", b"abc1700000000000", hashlib.sha256).hexdigest()
    assert sign("k", "abc", 1_700_000_000_000) == expected


def test_an_upper_case_signature_passes() -> None:
    doc = body()
    doc["signature"] = doc["signature"].upper()
    verify(raw(doc), KEY, NOW, MAX_AGE)


@pytest.mark.parametrize(
    ("doc", "why"),
    [
        (body(key="another-key"), "signature does not match"),
        (body() | {"token": "tok-2"}, "signature does not match"),
        (body() | {"triggeredAt": body()["triggeredAt"] + 1}, "signature does not match"),
        (body(at=NOW - timedelta(seconds=301)), "stale"),
        (body(at=NOW + timedelta(seconds=301)), "stale"),
    ],
    ids=["wrong-key", "altered-token", "altered-time", "stale", "from-the-future"],
)
def test_a_forged_or_stale_body_is_401(doc: dict[str, Any], why: str) -> None:
    with pytest.raises(WebhookRefused, match=why) as caught:
        verify(raw(doc), KEY, NOW, MAX_AGE)
    assert caught.value.http_status == 401


def test_the_allowed_age_is_a_setting() -> None:
    verify(raw(body(at=NOW - timedelta(seconds=500))), KEY, NOW, 600.0)


@pytest.mark.parametrize(
    ("payload", "why"),
    [
        (b"not json", "not JSON"),
        (raw([1, 2]), "not a JSON object"),
        (raw(body() | {"token": ""}), "no 'token'"),
        (raw({k: v for k, v in body().items() if k != "signature"}), "no 'signature'"),
        (raw(body() | {"data": "x"}), "no 'data'"),
        (raw(body() | {"triggeredAt": "soon"}), "triggeredAt"),
        (raw(body() | {"triggeredAt": True}), "triggeredAt"),
        (raw(body(token="t" * 201)), "too long"),
    ],
)
def test_a_malformed_body_is_400(payload: bytes, why: str) -> None:
    with pytest.raises(WebhookMalformed, match=why) as caught:
        verify(payload, KEY, NOW, MAX_AGE)
    assert caught.value.http_status == 400
