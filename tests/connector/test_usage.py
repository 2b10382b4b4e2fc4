"""Which integrations and workflows use a credential, and the refusal to delete one in use."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from connector import integrations
from connector.usage import Usage, require_unused, usage, usage_by_credential
from inventory.errors import ConfigError
from inventory.settings import Settings
from tests.web.test_credentials import _workflow
from vault.keys import load_keyring
from vault.store import Vault
from workflows import store
from workflows.registry import load_registry


def test_usage_names_integrations_and_workflows_by_credential(
    session: Session, settings: Settings
) -> None:
    vault = Vault(session, load_keyring(settings))
    for name in ("a-key", "b-key", "idle"):
        vault.add(name, f"{name}-secret-123", " ")
    for name, credential in (("zeta", "a-key"), ("alpha", "a-key"), ("beta", "b-key")):
        integrations.create(session, integrations.NewIntegration(name=name, credential=credential))
    store.create(session, _workflow("Roles", "b-key"), load_registry(plugins=False))

    found = usage_by_credential(session)
    assert found == {
        "a-key": Usage(integrations=["alpha", "zeta"]),
        "b-key": Usage(integrations=["beta"], workflows=["Roles"]),
    }
    assert not usage(session, "idle") and usage(session, "idle") == Usage()
    assert found["b-key"].describe() == "integration 'beta' and workflow 'Roles'"
    require_unused(session, "idle")
    with pytest.raises(ConfigError, match=r"^credential 'a-key' is used by integration 'alpha' and "
                       r"integration 'zeta': point them at another"):  # fmt: skip
        require_unused(session, "a-key")
