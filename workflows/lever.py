"""Lever access for workflow runs: one client per credential, shared by every block of a run.

Blocks never build HTTP requests of their own: Lever calls (presets) and templated custom
requests both go through `WorkflowClient`, the connector's LeverClient with its pacing, retries,
timeouts, error mapping and secret scrubbing, plus the last HTTP status for the run's steps.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests
from sqlalchemy import select
from sqlalchemy.orm import Session

from connector.lever.client import LeverClient
from inventory.models import Integration
from inventory.settings import Settings
from vault.keys import load_keyring
from vault.store import Secret, Vault

__all__ = ["IDEMPOTENT", "Connection", "LeverAccess", "WorkflowClient", "origin_of", "resolve"]

IDEMPOTENT = frozenset({"GET", "HEAD", "PUT", "DELETE"})


class WorkflowClient(LeverClient):
    """A LeverClient that remembers the last HTTP status and sends templated requests too."""

    last_status: int | None = None

    def _send(self, method: str, path: str, params: Any, json: Any) -> requests.Response:
        """Send as the connector does, keeping the status for the run's step log."""
        response = super()._send(method, path, params, json)
        self.last_status = response.status_code
        return response

    def send(
        self, method: str, path: str, *, json: Any = None, headers: Mapping[str, str] | None = None
    ) -> Any:
        """One request under the base URL with extra headers; a non-idempotent one that Lever
        may have acted on is not sent again."""
        with self._extra_headers(headers or {}):
            return self._request(method, path, json=json, idempotent=method in IDEMPOTENT)

    @contextmanager
    def _extra_headers(self, headers: Mapping[str, str]) -> Iterator[None]:
        """Headers added to this client's requests for the duration of one call."""
        saved = dict(self._http.headers)
        self._http.headers.update(headers)
        try:
            yield
        finally:
            self._http.headers.clear()
            self._http.headers.update(saved)


@dataclass(frozen=True)
class Connection:
    """How to reach Lever with one credential: base URL, pacing and the decrypted secret."""

    credential: str
    base_url: str
    max_rps: float
    secret: Secret


def resolve(
    session: Session, settings: Settings, credentials: Iterable[str]
) -> dict[str, Connection]:
    """Open each credential and find its Lever base URL: the integration that uses the
    credential (active ones first), else the configured default."""
    names = sorted(set(credentials))
    if not names:
        return {}
    vault = Vault(session, load_keyring(settings))
    return {name: _connection(session, settings, name, vault.get(name)) for name in names}


def _connection(session: Session, settings: Settings, name: str, secret: Secret) -> Connection:
    """The connection of one credential."""
    stmt = (
        select(Integration)
        .where(Integration.credential_name == name)
        .order_by(Integration.state != "active", Integration.name)
    )
    integ = session.scalars(stmt).first()
    if integ is None:
        return Connection(name, settings.lever_base_url, 10.0, secret)
    return Connection(name, integ.base_url, float(integ.options.get("max_rps", 10.0)), secret)


def origin_of(url: str) -> tuple[str, str]:
    """A URL split into its origin (scheme://host:port) and the rest (path and query)."""
    parts = urlsplit(url)
    rest = parts.path or "/"
    return f"{parts.scheme}://{parts.netloc}", rest + (f"?{parts.query}" if parts.query else "")


class LeverAccess:
    """The clients of one run: one per credential, and per origin for custom requests."""

    def __init__(
        self, connections: Mapping[str, Connection], options: Mapping[str, Any] | None = None
    ) -> None:
        self.connections = dict(connections)
        self.options = dict(options or {})
        self._clients: dict[tuple[str, str], WorkflowClient] = {}

    def base_url(self, credential: str) -> str:
        """The Lever base URL the credential is used with."""
        return self.connections[credential].base_url

    def client(self, credential: str, origin: str | None = None) -> WorkflowClient:
        """The run's client for a credential (at another origin for custom requests)."""
        conn = self.connections[credential]
        url = origin or conn.base_url
        key = (credential, url)
        if key not in self._clients:
            options = {"max_rps": conn.max_rps, **self.options}
            self._clients[key] = WorkflowClient(
                url, conn.secret.username, conn.secret.password, **options
            )
        return self._clients[key]

    def close(self) -> None:
        """Close every client."""
        for client in self._clients.values():
            client.close()
        self._clients.clear()
