"""The endpoint table: which handler answers a method and path, and the scope it needs."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import unquote

from connector.lever.sim import audit, hiring_routes, opportunities, users
from connector.lever.sim.responses import ApiError, SimResponse, not_found

READ, WRITE, AUDIT = "users:read:admin", "users:write:admin", "audit_events:read:admin"
OPPORTUNITIES, OFFERS = "opportunities:read:admin", "offers:read:admin"
POSTINGS, ARCHIVE_REASONS, STAGES = (
    "postings:read:admin", "archive_reasons:read:admin", "stages:read:admin",
)  # fmt: skip
ALL_SCOPES = frozenset(
    {READ, WRITE, AUDIT, OPPORTUNITIES, OFFERS, POSTINGS, ARCHIVE_REASONS, STAGES}
)

Handler = Callable[..., SimResponse]


@dataclass(frozen=True)
class Route:
    """One endpoint: method, path pattern, the name it is counted under, scope and handler."""

    method: str
    pattern: re.Pattern[str]
    name: str
    scope: str
    handler: Handler


_USERS, _ONE_USER = "/v1/users", r"/v1/users/(?P<uid>[^/]+)"
ROUTES = (
    Route("GET", re.compile(_USERS), "list_users", READ, users.list_users),
    Route("POST", re.compile(_USERS), "create_user", WRITE, users.create_user),
    Route("GET", re.compile(_ONE_USER), "get_user", READ, users.get_user),
    Route("PUT", re.compile(_ONE_USER), "update_user", WRITE, users.update_user),
    Route(
        "POST", re.compile(_ONE_USER + "/deactivate"), "deactivate_user", WRITE,
        users.deactivate_user,
    ),
    Route(
        "POST", re.compile(_ONE_USER + "/reactivate"), "reactivate_user", WRITE,
        users.reactivate_user,
    ),
    Route("GET", re.compile("/v1/audit_events"), "audit_events", AUDIT, audit.audit_events),
)  # fmt: skip

_OPPS, _ONE_OPP = "/v1/opportunities", r"/v1/opportunities/(?P<oid>[^/]+)"
HIRING_ROUTES = (
    Route("GET", re.compile(_OPPS), "list_opportunities", OPPORTUNITIES,
          opportunities.list_opportunities),
    Route("GET", re.compile(_ONE_OPP), "get_opportunity", OPPORTUNITIES,
          opportunities.get_opportunity),
    Route("GET", re.compile(_ONE_OPP + "/offers"), "list_offers", OFFERS,
          opportunities.list_offers),
    Route("GET", re.compile(_ONE_OPP + "/applications"), "list_applications", OPPORTUNITIES,
          opportunities.list_applications),
    Route("GET", re.compile("/v1/postings"), "list_postings", POSTINGS,
          hiring_routes.list_postings),
    Route("GET", re.compile(r"/v1/postings/(?P<pid>[^/]+)"), "get_posting", POSTINGS,
          hiring_routes.get_posting),
    Route("GET", re.compile("/v1/archive_reasons"), "list_archive_reasons", ARCHIVE_REASONS,
          hiring_routes.list_archive_reasons),
    Route("GET", re.compile(r"/v1/archive_reasons/(?P<rid>[^/]+)"), "get_archive_reason",
          ARCHIVE_REASONS, hiring_routes.get_archive_reason),
    Route("GET", re.compile("/v1/stages"), "list_stages", STAGES, hiring_routes.list_stages),
    Route("GET", re.compile(r"/v1/stages/(?P<sid>[^/]+)"), "get_stage", STAGES,
          hiring_routes.get_stage),
)  # fmt: skip


def find_route(method: str, path: str) -> tuple[Route, dict[str, str]]:
    """The endpoint for a request, or 404 (unknown path) / 405 (known path, other method)."""
    path_known = False
    for route in (*ROUTES, *HIRING_ROUTES):
        match = route.pattern.fullmatch(path)
        if match is None:
            continue
        if route.method == method:
            return route, {k: unquote(v) for k, v in match.groupdict().items()}
        path_known = True
    if path_known:
        raise ApiError(405, "MethodNotAllowedError", f"Method {method} not allowed on {path}")
    raise not_found(f"No such endpoint: {path}", code="NotFoundError")
