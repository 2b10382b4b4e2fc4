"""Preview: the first Lever users through the integration's validation, filters and mapping,
read from the simulator over loopback, with nothing written."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from connector import integrations
from connector.errors import LeverAuthError
from connector.lever.sim import LeverSimulator, SimulatorServer
from connector.preview import preview
from inventory.models import CustomField, Integration, Person
from inventory.settings import Settings
from tests.conftest import API_KEY
from vault.keys import load_keyring
from vault.store import Vault

Sim = tuple[LeverSimulator, SimulatorServer]


def mapped(
    session: Session, settings: Settings, url: str, key: str = API_KEY, **spec: Any
) -> Integration:
    """A smart-mapped draft integration 'lever' against the simulator."""
    Vault(session, load_keyring(settings)).add("lever-key", key, " ")
    new = integrations.NewIntegration(
        name="lever", credential="lever-key", base_url=url, max_rps=0, **spec
    )
    integ = integrations.create(session, new)
    integrations.apply_smart_mapping(session, integ, "Staff")
    return integ


def test_preview_maps_the_first_ten_users_and_writes_nothing(
    session: Session, settings: Settings, lever_sim: Sim
) -> None:
    integ = mapped(session, settings, lever_sim[1].url)
    rows = preview(session, settings, integ)
    users = lever_sim[0].users[:10]
    assert [r.record for r in rows] == [u["email"].lower() for u in users]
    first, user = rows[0], users[0]
    assert first.outcome == "sync" and first.person["email"] == user["email"]
    assert first.person["role"] == "Staff" and first.person["custom.Lever ID"] == user["id"]
    assert first.saas_user is not None and first.saas_user["role"] == user["accessRole"]
    assert session.scalar(select(func.count()).select_from(Person)) == 0
    assert lever_sim[0].calls("GET", "/v1/users") == 1, "one page only"


def test_preview_marks_filtered_and_bad_records(
    session: Session, settings: Settings, lever_sim: Sim
) -> None:
    role = lever_sim[0].users[0]["accessRole"]
    rule = {"all": [{"field": "accessRole", "op": "ne", "value": role}]}
    integ = mapped(session, settings, lever_sim[1].url, filters=rule, saas_users=False)
    lever_sim[0].update_user(lever_sim[0].users[1]["id"], email="not-an-address")
    rows = preview(session, settings, integ, limit=3)
    assert [r.outcome for r in rows][:2] == ["skipped", "error"]
    assert rows[0].message == "left out by the integration's filters"
    assert rows[1].message and "email" in rows[1].message
    assert all(r.saas_user is None for r in rows)


def test_a_refused_key_is_one_clear_error(
    session: Session, settings: Settings, lever_sim: Sim
) -> None:
    integ = mapped(session, settings, lever_sim[1].url, key="wrong-key-1234567890")
    with pytest.raises(LeverAuthError, match="Lever API key refused") as caught:
        preview(session, settings, integ)
    assert "wrong-key-1234567890" not in str(caught.value)
    assert session.scalar(select(func.count()).select_from(CustomField)) == 1
