"""A hires integration's own settings: what a launch needs, what a users integration refuses."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session, sessionmaker

from connector import integrations
from connector.errors import LaunchError, MappingError
from inventory.settings import Settings
from tests.conftest import create_hires, create_lever

URL = "http://127.0.0.1:9/v1"


def test_a_users_integration_refuses_fields_only_hires_fill(
    settings: Settings, session_factory: sessionmaker[Session]
) -> None:
    create_lever(session_factory, settings, URL)
    with session_factory() as session:
        integ = integrations.get(session, "lever")
        with pytest.raises(MappingError, match="start_date is filled by hires"):
            integrations.apply_assignments(session, integ, ["start_date=createdAt"])


def test_a_hires_launch_needs_an_email_format_and_a_way_to_hear_of_hires(
    settings: Settings, session_factory: sessionmaker[Session]
) -> None:
    create_hires(
        session_factory, settings, URL, email_format=None, webhook_token=None, poll=False,
        launch=False,
    )  # fmt: skip
    with session_factory() as session:
        integ = integrations.get(session, "hires")
        with pytest.raises(LaunchError) as refused:
            integrations.launch(integ)
    assert "set the work-email format" in str(refused.value)
    assert "turn polling on (--poll) or give the webhook's --webhook-secret" in str(refused.value)


def test_smart_mapping_of_a_hire_and_defaults(
    settings: Settings, session_factory: sessionmaker[Session]
) -> None:
    create_hires(session_factory, settings, URL, launch=False)
    with session_factory.begin() as session:
        integ = integrations.get(session, "hires")
        integrations.apply_defaults(integ, ["location=Remote"])
        mapped = {e["target"]: e for e in integ.mapping}
        assert mapped["start_date"]["path"] == "start_date"
        assert mapped["manager"]["path"] == "manager_id"
        assert mapped["location"] == {"target": "location", "path": "location", "default": "Remote"}
        assert mapped["role"] == {"target": "role", "constant": "Employee"}
        assert "email" not in mapped and "username" not in mapped
        with pytest.raises(MappingError, match="for a mapped TARGET"):
            integrations.apply_defaults(integ, ["nothing=1"])
