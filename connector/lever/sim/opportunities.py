"""Lever's opportunity endpoints: the filtered list, one opportunity, its offers and its
applications, with `expand` turning ids into objects.

Time windows (`*_at_start`, `*_at_end`) include their start and exclude their end. A key is
assumed to have confidential access: `confidentiality` only filters the list, and fetching a
confidential opportunity by id works."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from connector.lever.sim.hiring import HiringAccount, HiringStore, Obj
from connector.lever.sim.hiring_routes import paged, whole_list
from connector.lever.sim.paging import envelope
from connector.lever.sim.params import Query, first, flag, ms_param, multi, project
from connector.lever.sim.responses import SimResponse, bad_request, to_json

_CONFIDENTIALITY = ("non-confidential", "confidential", "all")
Check = Callable[[Obj], bool]


def list_opportunities(account: HiringAccount, query: Query, body: bytes) -> SimResponse:
    """GET /opportunities: a stable page in (createdAt, id) order, filtered and expanded."""
    hiring = account.hiring
    keep = _filter(hiring, query)
    records, has_next, last = paged(hiring.keys, hiring.opportunities.__getitem__, query, keep)
    expand, fields = _expand(query), multi(query, "include")
    encoded = [to_json(project(view(account, r, expand), fields)) for r in records]
    return SimResponse(200, envelope(encoded, has_next, last))


def get_opportunity(account: HiringAccount, query: Query, body: bytes, oid: str) -> SimResponse:
    """GET /opportunities/{id}: one opportunity, archived or confidential too."""
    opportunity = account.hiring.require(oid)
    record = project(view(account, opportunity, _expand(query)), multi(query, "include"))
    return SimResponse(200, to_json({"data": record}))


def list_offers(account: HiringAccount, query: Query, body: bytes, oid: str) -> SimResponse:
    """GET /opportunities/{id}/offers: every offer, newest first, in one page."""
    account.hiring.require(oid)
    offers = account.hiring.offers.get(oid, [])
    return whole_list(sorted(offers, key=lambda o: (o["createdAt"], o["id"]), reverse=True))


def list_applications(account: HiringAccount, query: Query, body: bytes, oid: str) -> SimResponse:
    """GET /opportunities/{id}/applications: the opportunity's applications, in one page."""
    opportunity = account.hiring.require(oid)
    return whole_list(_applications(account.hiring, opportunity))


# -- expand ------------------------------------------------------------------------------------


def view(account: HiringAccount, opportunity: Obj, expand: set[str]) -> Obj:
    """An opportunity as sent, with the asked relations as objects (unknown ones ignored)."""
    hiring, record = account.hiring, dict(opportunity)
    if "contact" in expand:
        record["contact"] = hiring.contacts[opportunity["contact"]]
    if "applications" in expand:
        record["applications"] = _applications(hiring, opportunity)
    if "stage" in expand and opportunity["stage"] is not None:
        record["stage"] = hiring.stage(opportunity["stage"])
    if "owner" in expand and opportunity["owner"] is not None:
        record["owner"] = account.store.get(opportunity["owner"])
    return record


def _applications(hiring: HiringStore, opportunity: Obj) -> list[Obj]:
    """An opportunity's applications, archived as the opportunity is."""
    apps = (hiring.applications[a] for a in opportunity["applications"])
    return [{**app, "archived": opportunity["archived"]} for app in apps]


def _expand(query: Query) -> set[str]:
    """The relations to expand (`expand` and `expand[]`, repeated or comma-separated)."""
    return set(multi(query, "expand", "expand[]"))


# -- filters -----------------------------------------------------------------------------------


def _filter(hiring: HiringStore, query: Query) -> Check:
    """Every filter of a list request, combined."""
    checks = [_confidentiality(query), *_archive_checks(query)]
    checks += [_window(query, name, _stamp(name)) for name in ("created_at", "updated_at")]
    emails = {e.strip().lower() for e in multi(query, "email")}
    if emails:
        checks.append(lambda o: any(e.strip().lower() in emails for e in o["emails"]))
    stages = set(multi(query, "stage_id"))
    if stages:
        checks.append(lambda o: o["stage"] in stages)
    postings = set(multi(query, "posting_id"))
    if postings:
        checks.append(lambda o: bool(postings & _posting_ids(hiring, o)))
    return lambda o: all(check(o) for check in checks)


def _confidentiality(query: Query) -> Check:
    """`confidentiality`: non-confidential (the default), confidential, or all."""
    wanted = first(query, "confidentiality") or "non-confidential"
    if wanted not in _CONFIDENTIALITY:
        raise bad_request("Invalid confidentiality: expected confidential, non-confidential or all")
    return lambda o: wanted == "all" or o["confidentiality"] == wanted


def _archive_checks(query: Query) -> list[Check]:
    """`archived`, `archive_reason_id` and the archived-at window."""
    checks = [_window(query, "archived_at", _archived_at)]
    if first(query, "archived") is not None:
        archived = flag(query, "archived")
        checks.append(lambda o: (o["archived"] is not None) == archived)
    reasons = set(multi(query, "archive_reason_id"))
    if reasons:
        checks.append(lambda o: o["archived"] is not None and o["archived"]["reason"] in reasons)
    return checks


def _window(query: Query, name: str, stamp: Callable[[Obj], Any]) -> Check:
    """`<name>_start` (inclusive) and `<name>_end` (exclusive); none given: keep all."""
    start, end = ms_param(query, f"{name}_start"), ms_param(query, f"{name}_end")
    if start is None and end is None:
        return lambda o: True

    def inside(opportunity: Obj) -> bool:
        """Whether the record's time is in the window (no time: outside)."""
        ms = stamp(opportunity)
        return ms is not None and (start is None or ms >= start) and (end is None or ms < end)

    return inside


def _stamp(name: str) -> Callable[[Obj], Any]:
    """Reads createdAt or updatedAt."""
    key = "createdAt" if name == "created_at" else "updatedAt"
    return lambda o: o[key]


def _archived_at(opportunity: Obj) -> int | None:
    """When the opportunity was archived, if it is."""
    archived = opportunity["archived"]
    return archived["archivedAt"] if archived else None


def _posting_ids(hiring: HiringStore, opportunity: Obj) -> set[str]:
    """The postings an opportunity's applications are to."""
    apps = (hiring.applications[a] for a in opportunity["applications"])
    return {app["posting"] for app in apps if app["posting"]}
