"""Lever's hiring reference endpoints: postings, archive reasons and stages, and the paging and
lookups the opportunity endpoints share with them."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Iterable
from typing import Any

from connector.lever.sim.hiring import HiringAccount, Obj
from connector.lever.sim.paging import Key, envelope, page_limit, page_offset
from connector.lever.sim.params import Query, first, multi, project
from connector.lever.sim.responses import SimResponse, bad_request, not_found, to_json

_REASON_TYPES = ("hired", "non-hired")


def paged(
    keys: list[Key], lookup: Callable[[str], Obj], query: Query, keep: Callable[[Obj], bool]
) -> tuple[list[Obj], bool, Key | None]:
    """A page of the kept records after the request's offset: records, hasNext, last key."""
    limit, after = page_limit(query), page_offset(query)
    start = bisect_right(keys, after) if after is not None else 0
    found: list[Key] = []
    for i in range(start, len(keys)):
        if keep(lookup(keys[i][1])):
            found.append(keys[i])
            if len(found) > limit:
                break
    page = found[:limit]
    return [lookup(uid) for _, uid in page], len(found) > limit, page[-1] if page else None


def whole_list(records: Iterable[Any]) -> SimResponse:
    """Every record in one list envelope (endpoints Lever does not page)."""
    return SimResponse(200, envelope([to_json(r) for r in records], False, None))


def one(record: Any) -> SimResponse:
    """One record in Lever's `{"data": ...}` answer."""
    return SimResponse(200, to_json({"data": record}))


def list_postings(account: HiringAccount, query: Query, body: bytes) -> SimResponse:
    """GET /postings: a stable page in (createdAt, id) order; `include` as for users."""
    postings = account.hiring.postings
    keys = sorted((p["createdAt"], pid) for pid, p in postings.items())
    records, has_next, last = paged(keys, postings.__getitem__, query, lambda _: True)
    fields = multi(query, "include")
    return SimResponse(
        200, envelope([to_json(project(r, fields)) for r in records], has_next, last)
    )


def get_posting(account: HiringAccount, query: Query, body: bytes, pid: str) -> SimResponse:
    """GET /postings/{id}."""
    posting = account.hiring.postings.get(pid)
    if posting is None:
        raise not_found(f"Posting {pid} not found")
    return one(project(posting, multi(query, "include")))


def list_archive_reasons(account: HiringAccount, query: Query, body: bytes) -> SimResponse:
    """GET /archive_reasons: all of them, or those of one `type` (hired, non-hired)."""
    kind = first(query, "type")
    if kind is not None and kind not in _REASON_TYPES:
        raise bad_request("Invalid type: expected hired or non-hired")
    return whole_list(r for r in account.hiring.reasons if kind is None or r["type"] == kind)


def get_archive_reason(account: HiringAccount, query: Query, body: bytes, rid: str) -> SimResponse:
    """GET /archive_reasons/{id}."""
    return one(_by_id(account.hiring.reasons, rid, "Archive reason"))


def list_stages(account: HiringAccount, query: Query, body: bytes) -> SimResponse:
    """GET /stages: the pipeline in order."""
    return whole_list(account.hiring.stages)


def get_stage(account: HiringAccount, query: Query, body: bytes, sid: str) -> SimResponse:
    """GET /stages/{id}."""
    return one(_by_id(account.hiring.stages, sid, "Stage"))


def _by_id(items: list[Obj], item_id: str, what: str) -> Obj:
    """An item of a short list by id, or Lever's 404."""
    for item in items:
        if item["id"] == item_id:
            return item
    raise not_found(f"{what} {item_id} not found")
