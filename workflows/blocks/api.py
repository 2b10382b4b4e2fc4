"""API: call the SaaS app's API for a record, from a preset or a templated custom request.

Presets (Lever Delete User, Lever Reactivate User) use the connector's Lever calls, then mark the
SaaS user. Custom mode sends ``request`` — method, URL, headers and JSON body, every text a
template over the record — with the block's credential as Basic auth, through the same client
(pacing, retries, timeouts, error mapping). A dry run sends nothing; a supervised run asks for
approval before any call that may change the app (presets, and methods other than GET and HEAD).
A people workflow may send custom requests (to order a new hire's laptop, say); the presets act
on Lever users, so it may not use them.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from connector.errors import ConnectorError
from inventory.timeutil import from_ms
from workflows import templates
from workflows.blocks.common import (
    PresetBlock,
    call_lever,
    failure_of,
    mark_active,
    mark_deactivated,
)
from workflows.context import Record, RunContext
from workflows.lever import WorkflowClient, origin_of
from workflows.objects import OBJECTS
from workflows.registry import CheckEnv, Registry, Result

__all__ = ["METHODS", "OPERATIONS", "Api", "Operation", "register"]

METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")
READ_ONLY = frozenset({"GET", "HEAD"})
REQUEST_KEYS = frozenset({"method", "url", "headers", "body"})


@dataclass(frozen=True)
class Operation:
    """A preset's Lever call: what it says it does, the call, and the change to the record."""

    words: str
    call: Callable[[WorkflowClient, str], dict[str, Any]]
    apply: Callable[[Record, dict[str, Any], RunContext], bool]


def _apply_deactivated(record: Record, user: dict[str, Any], ctx: RunContext) -> bool:
    """Mark the record deactivated at Lever's deactivation time."""
    when = user.get("deactivatedAt")
    moment = from_ms(when) if type(when) is int else None
    return mark_deactivated(ctx.session, record.user, moment, ctx.now)


def _apply_active(record: Record, user: dict[str, Any], ctx: RunContext) -> bool:
    """Mark the record active."""
    return mark_active(ctx.session, record.user, ctx.now)


OPERATIONS: Mapping[str, Operation] = {
    "deactivate_user": Operation(
        "deactivate in Lever (POST /users/{id}/deactivate) and mark the SaaS user deactivated",
        lambda client, user_id: client.deactivate_user(user_id),
        _apply_deactivated,
    ),
    "reactivate_user": Operation(
        "reactivate in Lever (POST /users/{id}/reactivate) and mark the SaaS user active",
        lambda client, user_id: client.reactivate_user(user_id),
        _apply_active,
    ),
}


class Api(PresetBlock):
    """Call the SaaS app's API for the record: a preset such as Lever Delete User, or a custom
    templated request."""

    type = "api"
    keys = frozenset({"preset", "credential", "request"})
    objects = frozenset(OBJECTS)
    preset_required = False

    @functools.cached_property
    def request(self) -> Mapping[str, Any]:
        """The custom request, as written (empty for a preset)."""
        request = self.spec.get("request")
        return request if isinstance(request, Mapping) else {}

    @property
    def method(self) -> str:
        """The custom request's method, upper case."""
        return str(self.request.get("method", "GET")).upper()

    def check(self, env: CheckEnv) -> list[str]:
        """Either a preset with a known operation or a request whose templates compile."""
        has_preset, has_request = "preset" in self.spec.doc, "request" in self.spec.doc
        if has_preset == has_request:
            return ['needs either a "preset" or a custom "request", not both or neither']
        problems = super().check(env)
        if has_preset and not problems and self._operation() is None:
            problems.append(f"preset {self.spec.get('preset')!r} has no operation this block runs")
        return problems + ([] if has_preset else _check_request(self.spec.get("request")))

    def changes_lever(self) -> bool:
        """Presets change Lever; custom requests unless they only read."""
        return self.preset is not None or self.method not in READ_ONLY

    def _operation(self) -> Operation | None:
        """The preset's operation."""
        return OPERATIONS.get(self.preset.operation) if self.preset else None

    def describe(self, ctx: RunContext, record: Record) -> str:
        """The call the block would make for this record."""
        operation = self._operation()
        if operation is not None:
            return f"would {operation.words.replace('{id}', record.user.external_id)}"
        try:
            url, _, _ = self._render(ctx, record)
        except templates.TemplateProblem as exc:
            return f"would fail: {exc}"
        return f"would send {self.method} {_shown(url)}"

    def run(self, ctx: RunContext, record: Record) -> Result:
        """Run the preset or send the custom request (a dry run only says what it would do)."""
        if ctx.dry_run:
            return Result.success(self.describe(ctx, record))
        operation = self._operation()
        if operation is not None:
            return self._run_preset(ctx, record, operation)
        return self._send(ctx, record)

    def _run_preset(self, ctx: RunContext, record: Record, operation: Operation) -> Result:
        """Call Lever for the record, then change the record to match."""
        wrong = self.wrong_app(record)
        if wrong is not None:
            return wrong
        client = ctx.lever.client(self.credential)
        try:
            user = call_lever(lambda: operation.call(client, record.user.external_id))
        except ConnectorError as exc:
            return failure_of(exc)
        changed = operation.apply(record, user, ctx)
        note = "" if changed else " (the SaaS user already matched)"
        return Result.success(f"done: {operation.words.replace('{id}', record.user.external_id)}"
                              f"{note}", client.last_status)  # fmt: skip

    def _render(self, ctx: RunContext, record: Record) -> tuple[str, dict[str, str], Any]:
        """The custom request's URL, headers and body for this record."""
        variables = ctx.variables(record, self.credential)
        url = templates.render(str(self.request.get("url", "")), variables).strip()
        headers = templates.render_tree(self.request.get("headers") or {}, variables)
        return url, headers, templates.render_tree(self.request.get("body"), variables)

    def _send(self, ctx: RunContext, record: Record) -> Result:
        """Send the custom request through the run's client for the URL's origin."""
        try:
            url, headers, body = self._render(ctx, record)
        except templates.TemplateProblem as exc:
            return Result.failure(str(exc))
        problem = _url_problem(url)
        if problem is not None:
            return Result.failure(problem)
        origin, path = origin_of(url)
        client = ctx.lever.client(self.credential, origin)
        try:
            client.send(self.method, path, json=body, headers=headers)
        except ConnectorError as exc:
            return failure_of(exc)
        return Result.success(f"{self.method} {_shown(url)}: HTTP {client.last_status}",
                              client.last_status)  # fmt: skip


def _check_request(request: Any) -> list[str]:
    """A custom request: a known method, a URL template, header and body templates."""
    if not isinstance(request, Mapping):
        return ['"request" must be an object with method, url, headers and body']
    problems = [f'"request" has unknown key {key!r}' for key in sorted(set(request) - REQUEST_KEYS)]
    if str(request.get("method", "GET")).upper() not in METHODS:
        problems.append(f'"request.method" must be one of {", ".join(METHODS)}')
    if not request.get("url"):
        problems.append('"request.url" is missing (such as "{{ base_url }}/users")')
    headers = request.get("headers") or {}
    if not isinstance(headers, Mapping) or not all(isinstance(v, str) for v in headers.values()):
        problems.append('"request.headers" must map header names to text')
    return problems + templates.check_tree(
        {k: request[k] for k in ("url", "headers", "body") if k in request}, "request"
    )


def _url_problem(url: str) -> str | None:
    """Why a rendered URL cannot be sent to, or None."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return f"the request URL must be http(s)://HOST/…, got {_shown(url)!r}"
    if parts.username or parts.password:
        return "the request URL must not hold a user name or password (use the credential)"
    return None


def _shown(url: str) -> str:
    """A URL as steps show it: without its query string, which may hold tokens."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}" if parts.scheme else url.split("?")[0]


def register(registry: Registry) -> None:
    """Register the API block."""
    registry.add_block(Api)
