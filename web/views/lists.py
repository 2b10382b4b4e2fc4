"""`/people` and `/saas/<app>/users`: the inventory lists, their CSV export, saved views, and the
detail page of each person and SaaS user.

The query string of a list page (every part optional; each link on the page keeps all of them):

* `q=TEXT` searches: every word appears in a name or the email, ignoring case.
* `f=FIELD:OP:VALUE` filters, repeated for more filters (all must hold). FIELD is a column
  (`email`, `role`, `last_login_at`…) or a custom field `custom.NAME`; OP is a rule operator
  (eq, ne, in, not_in, contains, starts_with, ends_with, is_empty, is_not_empty, gt, lt,
  older_than_days, newer_than_days); VALUE is the rest of the text, colons included. `in` and
  `not_in` take a comma-separated list, the `*_days` operators a whole number of days, `gt` and
  `lt` a number or an ISO-8601 datetime, `is_empty` and `is_not_empty` nothing
  (`f=role:is_empty:`). A date (`start_date`) is `YYYY-MM-DD`: `eq` is on that day, `gt` after
  it, `lt` before it. Examples: `f=role:eq:interviewer`, `f=custom.Cost centre:starts_with:EU`,
  `f=last_login_at:older_than_days:365`, `f=start_date:gt:2025-01-31`. A field whose name holds
  a colon is matched whole. The People page links to each status (`f=status:eq:pre_start`).
  The filter form sends `ff`, `fo` and `fv` (field, operator, value); the page folds them into
  one more `f` and redirects, so filtering works without JavaScript.
* `sort=COLUMN` and `dir=asc|desc` order the rows (then by id); `cols=a,b,c` (or `cols` repeated,
  as checkboxes send it) picks the columns shown and exported; `size` is the page size
  (25, 50, 100 or 200); `after=CURSOR` is the keyset cursor the "Next page" link carries.
* `format=csv` downloads every row of the same view (search, filters, order, columns) as CSV,
  streamed a batch at a time.

A bad filter, sort, column or cursor is a 400 page with one line saying what to fix; an unknown
SaaS app or record is a 404.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from itertools import chain
from typing import Any
from urllib.parse import parse_qsl, urlencode

from flask import (
    Blueprint,
    Response,
    flash,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from flask.typing import ResponseReturnValue

from inventory import saved_views
from inventory.changelog import list_changes
from inventory.errors import ConfigError, NotFoundError
from inventory.models import Account
from inventory.queries import (
    PEOPLE_COLUMNS,
    SAAS_USER_COLUMNS,
    SAAS_USER_FIELDS,
    Page,
    find_app,
    iter_people,
    iter_saas_users,
    list_people,
    list_saas_users,
    people_fields,
    person_detail,
    saas_user_detail,
)
from inventory.rules import CUSTOM_PREFIX, OPERATORS, FieldSpec, Rule, parse_filters
from inventory.statuses import PersonStatus, values
from inventory.timeutil import utcnow
from web import csvout
from web.http import db
from web.security import current_account, requires

bp = Blueprint("lists", __name__)

PAGE_SIZES = (25, 50, 100, 200)
DEFAULT_SIZE = 50
DEFAULT_SORT = "email"
HISTORY_LIMIT = 200
KNOWN_APPS = ("Lever",)
PEOPLE_DEFAULT_COLS = (
    "email", "full_name", "role", "job_title", "status", "start_date", "last_synced_at",
)  # fmt: skip
SAAS_DEFAULT_COLS = ("email", "name", "role", "status", "last_login_at", "person_email")
_STATE_KEYS = ("q", "f", "sort", "dir", "cols", "size")
LABELS = {
    "email": "Email",
    "username": "Username",
    "first_name": "First name",
    "last_name": "Last name",
    "full_name": "Full name",
    "name": "Name",
    "role": "Role",
    "job_title": "Job title",
    "status": "Status",
    "app": "App",
    "external_id": "External id",
    "person_email": "Person",
    "created_at": "Created",
    "updated_at": "Updated",
    "last_synced_at": "Last synced",
    "deactivated_at": "Deactivated",
    "last_login_at": "Last login",
    "last_seen_at": "Last seen",
    "start_date": "Start date",
    "personal_email": "Personal email",
    "department": "Department",
    "location": "Location",
    "manager_email": "Manager",
}
STATUS_LABELS: dict[str, str] = {
    PersonStatus.ACTIVE: "Active",
    PersonStatus.DEACTIVATED: "Deactivated",
    PersonStatus.PRE_START: "Pre-start",
    PersonStatus.CANCELLED: "Cancelled",
}


@dataclass(frozen=True)
class ListKind:
    """What differs between the People list and one SaaS app's users list."""

    page: str
    title: str
    trail: str
    table_id: str
    filename: str
    endpoint: str
    url_args: Mapping[str, Any]
    fields: Mapping[str, FieldSpec]
    columns: tuple[str, ...]
    sortable: frozenset[str]
    default_cols: tuple[str, ...]
    fetch: Callable[..., Page]
    stream: Callable[..., Iterator[dict[str, Any]]]
    detail: Callable[[dict[str, Any]], str]
    statuses: tuple[str, ...] = ()  # the statuses the page offers as one-click filters


@dataclass(frozen=True)
class ListQuery:
    """A list page's request, checked: search, filters, order, columns, page size, cursor."""

    q: str
    filters: tuple[str, ...]
    rule: Rule | None
    sort: str
    descending: bool
    cols: tuple[str, ...]
    size: int
    after: str | None


# --- the list kinds --------------------------------------------------------------------------


def _people_kind() -> ListKind:
    """The People list, whose filters and columns include every custom field."""
    fields = people_fields(db())
    custom = tuple(name for name in fields if name.startswith(CUSTOM_PREFIX))
    return ListKind(
        page="people",
        title="People",
        trail="",
        table_id="people-table",
        filename="people.csv",
        endpoint="lists.people",
        url_args={},
        fields=fields,
        columns=(*PEOPLE_COLUMNS, *custom),
        sortable=frozenset(PEOPLE_COLUMNS),
        default_cols=PEOPLE_DEFAULT_COLS,
        fetch=list_people,
        stream=iter_people,
        detail=lambda row: url_for("lists.person", person_id=row["id"]),
        statuses=values(PersonStatus),
    )


def _saas_kind(app: str) -> ListKind:
    """The users of one SaaS app, found by name ignoring case."""
    name = app_name(app)
    slug = name.lower()
    return ListKind(
        page=f"saas:{slug}",
        title=f"{name} users",
        trail=f"Software › SaaS › {name} › Users",
        table_id="saas-users-table",
        filename=f"{slug}-users.csv",
        endpoint="lists.saas_users",
        url_args={"app": slug},
        fields=SAAS_USER_FIELDS,
        columns=tuple(SAAS_USER_COLUMNS),
        sortable=frozenset(SAAS_USER_COLUMNS),
        default_cols=SAAS_DEFAULT_COLS,
        fetch=partial(list_saas_users, app=name),
        stream=partial(iter_saas_users, app=name),
        detail=lambda row: url_for("lists.saas_user", app=slug, user_id=row["id"]),
    )


def app_name(app: str) -> str:
    """The stored name of a SaaS app (Lever is known before its first sync), else a 404."""
    stored = find_app(db(), app)
    if stored is not None:
        return stored
    known = {name.lower(): name for name in KNOWN_APPS}
    if app.lower() in known:
        return known[app.lower()]
    raise NotFoundError(f"no SaaS app named {app!r}: invsync lists {', '.join(KNOWN_APPS)}")


# --- parsing the query string ----------------------------------------------------------------


def parse_query(args: Any, kind: ListKind) -> ListQuery:
    """Check a list page's query string against the list's fields and columns."""
    filters = tuple(text for text in args.getlist("f") if text)
    sort = args.get("sort") or DEFAULT_SORT
    if sort not in kind.sortable:
        raise ConfigError(
            f"cannot sort by {sort!r} (use one of {', '.join(sorted(kind.sortable))})"
        )
    return ListQuery(
        q=(args.get("q") or "").strip(),
        filters=filters,
        rule=parse_filters(filters, kind.fields),
        sort=sort,
        descending=_direction(args.get("dir")),
        cols=_columns(args.getlist("cols"), kind),
        size=_size(args.get("size")),
        after=args.get("after") or None,
    )


def _direction(text: str | None) -> bool:
    """True for descending order."""
    if text in (None, "", "asc"):
        return False
    if text == "desc":
        return True
    raise ConfigError(f"dir must be asc or desc, not {text!r}")


def _columns(values: Sequence[str], kind: ListKind) -> tuple[str, ...]:
    """The chosen columns, from `cols=a,b` or repeated `cols`; the defaults when none."""
    chosen = [name.strip() for value in values for name in value.split(",") if name.strip()]
    unknown = [name for name in chosen if name not in kind.columns]
    if unknown:
        raise ConfigError(f"unknown column {unknown[0]!r} (use one of {', '.join(kind.columns)})")
    return tuple(dict.fromkeys(chosen)) or kind.default_cols


def _size(text: str | None) -> int:
    """The page size: one of PAGE_SIZES."""
    if not text:
        return DEFAULT_SIZE
    if not text.isdigit() or int(text) not in PAGE_SIZES:
        raise ConfigError(f"size must be one of {', '.join(map(str, PAGE_SIZES))}")
    return int(text)


# --- links -----------------------------------------------------------------------------------


def state_params(query: ListQuery, kind: ListKind, **changes: Any) -> list[tuple[str, str]]:
    """The query string of a view (defaults left out), with some parts changed."""
    parts: dict[str, Any] = {
        "q": query.q,
        "f": list(query.filters),
        "sort": "" if query.sort == DEFAULT_SORT else query.sort,
        "dir": "desc" if query.descending else "",
        "cols": "" if query.cols == kind.default_cols else ",".join(query.cols),
        "size": "" if query.size == DEFAULT_SIZE else str(query.size),
        **changes,
    }
    pairs: list[tuple[str, str]] = []
    for key, value in parts.items():
        values = value if isinstance(value, list) else [value]
        pairs.extend((key, str(v)) for v in values if v not in (None, ""))
    return pairs


def list_url(kind: ListKind, pairs: Sequence[tuple[str, str]] = ()) -> str:
    """The list page's URL with a query string."""
    base = url_for(kind.endpoint, **kind.url_args)
    return f"{base}?{urlencode(pairs)}" if pairs else base


def _sort_url(query: ListQuery, kind: ListKind, column: str) -> str:
    """The link of a column header: sort by it, flipping the direction when it is the sort."""
    desc = query.sort == column and not query.descending
    return list_url(kind, state_params(query, kind, sort=column, dir="desc" if desc else ""))


def _status_filter(status: str) -> str:
    """The filter that keeps one status."""
    return f"status:eq:{status}"


def _status_links(query: ListQuery, kind: ListKind) -> list[dict[str, Any]]:
    """One-click status filters: a link to any status and one per status the page offers, each
    replacing the view's status filter and keeping the rest of the view."""
    if not kind.statuses:
        return []
    offered = [_status_filter(status) for status in kind.statuses]
    rest = [f for f in query.filters if f not in offered]
    links = [_status_link(query, kind, "Any status", rest, rest == list(query.filters))]
    for status, text in zip(kind.statuses, offered, strict=True):
        label = STATUS_LABELS.get(status, status)
        links.append(_status_link(query, kind, label, [*rest, text], text in query.filters))
    return links


def _status_link(
    query: ListQuery, kind: ListKind, label: str, filters: list[str], current: bool
) -> dict[str, Any]:
    """A status link: its label, the view with those filters, and whether it is the view."""
    url = list_url(kind, state_params(query, kind, f=filters))
    return {"label": label, "url": url, "current": current}


def _filter_links(query: ListQuery, kind: ListKind) -> list[dict[str, str]]:
    """Each active filter with the link that removes it."""
    links = []
    for i, text in enumerate(query.filters):
        rest = [f for j, f in enumerate(query.filters) if j != i]
        links.append({"text": text, "remove": list_url(kind, state_params(query, kind, f=rest))})
    return links


# --- the list pages --------------------------------------------------------------------------


@bp.get("/people")
@requires("viewer")
def people() -> ResponseReturnValue:
    """The People list: search, filters, order, columns, keyset pages, CSV, saved views."""
    return _list_page(_people_kind())


@bp.get("/saas/<app>/users")
@requires("viewer")
def saas_users(app: str) -> ResponseReturnValue:
    """The users of one SaaS app (Lever), with the same tools as the People list."""
    return _list_page(_saas_kind(app))


def _list_page(kind: ListKind) -> ResponseReturnValue:
    """One list page, a redirect that adds the filter of the filter form, or the CSV export."""
    if request.args.get("ff"):
        return redirect(_with_new_filter(kind))
    query = parse_query(request.args, kind)
    if request.args.get("format") == "csv":
        return csv_response(kind, query)
    if request.args.get("format") not in (None, "", "html"):
        raise ConfigError("format must be csv (or left out for the page)")
    page = _fetch(kind, query)
    return render_template("lists/list.html", **_list_context(kind, query, page))


def _with_new_filter(kind: ListKind) -> str:
    """The page's URL with the filter form's field, operator and value as one more `f`."""
    keep = [(k, v) for k, v in request.args.items(multi=True) if k in _STATE_KEYS]
    text = ":".join(request.args.get(name, "") for name in ("ff", "fo", "fv"))
    return list_url(kind, [*keep, ("f", text)])


def _fetch(kind: ListKind, query: ListQuery) -> Page:
    """The page of rows the query asks for, each with its ids for links."""
    return kind.fetch(
        db(),
        q=query.q or None,
        rule=query.rule,
        sort=query.sort,
        descending=query.descending,
        after=query.after,
        limit=query.size,
        now=utcnow(),
        ids=True,
    )


def _list_context(kind: ListKind, query: ListQuery, page: Page) -> dict[str, Any]:
    """Everything the list template shows."""
    state = state_params(query, kind)
    return {
        "kind": kind,
        "query": query,
        "headers": [_header(query, kind, column) for column in query.cols],
        "rows": [_row(kind, query.cols, item) for item in page.items],
        "next_url": _next_url(query, kind, page),
        "first_url": list_url(kind, state) if query.after else None,
        "csv_url": list_url(kind, [*state, ("format", "csv")]),
        "filters": _filter_links(query, kind),
        "status_links": _status_links(query, kind),
        "fields": list(kind.fields),
        "operators": OPERATORS,
        "choices": [(c, label(c), c in query.cols) for c in kind.columns],
        "sizes": PAGE_SIZES,
        "state": state,
        "view_query": urlencode(state),
        "saved": _saved_links(kind),
    }


def _next_url(query: ListQuery, kind: ListKind, page: Page) -> str | None:
    """The "Next page" link, when there is a next page."""
    if page.next_cursor is None:
        return None
    return list_url(kind, state_params(query, kind, after=page.next_cursor))


def label(column: str) -> str:
    """A column's header: its label, or a custom field's own name."""
    if column.startswith(CUSTOM_PREFIX):
        return column[len(CUSTOM_PREFIX) :]
    return LABELS.get(column, column.replace("_", " ").capitalize())


def _header(query: ListQuery, kind: ListKind, column: str) -> dict[str, Any]:
    """A column header: label, sort link (sortable columns) and current direction."""
    sorted_by = ("desc" if query.descending else "asc") if query.sort == column else None
    link = _sort_url(query, kind, column) if column in kind.sortable else None
    return {"label": label(column), "url": link, "sorted": sorted_by}


def cell(item: Mapping[str, Any], column: str) -> Any:
    """A row's value in one column; custom fields come from the record's custom document."""
    if column.startswith(CUSTOM_PREFIX):
        return (item.get("custom") or {}).get(column[len(CUSTOM_PREFIX) :])
    return item.get(column)


def _row(kind: ListKind, cols: Sequence[str], item: dict[str, Any]) -> dict[str, Any]:
    """A table row: its cells (text and optional link) and its status for styling."""
    cells = [{"text": _shown(cell(item, c)), "url": None} for c in cols]
    cells[0]["url"] = kind.detail(item)
    if item.get("person_id") is not None and "person_email" in cols:
        person = url_for("lists.person", person_id=item["person_id"])
        cells[cols.index("person_email")]["url"] = person
    return {"cells": cells, "status": item.get("status") or ""}


def _shown(value: Any) -> str:
    """A value as page text (documents as compact JSON)."""
    if value is None:
        return ""
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return str(value)


# --- CSV export ------------------------------------------------------------------------------


def csv_response(kind: ListKind, query: ListQuery) -> Response:
    """Every row of the view as a CSV download, streamed so memory stays flat."""
    rows = kind.stream(
        db(),
        q=query.q or None,
        rule=query.rule,
        sort=query.sort,
        descending=query.descending,
        now=utcnow(),
    )
    # Read the first batch now, so a mistake in the query is an error page, not a cut-off file.
    first = next(rows, None)
    rows = chain([first] if first is not None else [], rows)
    headers = {"Content-Disposition": f"attachment; filename={kind.filename}"}
    body = stream_with_context(csv_lines(rows, query.cols))
    return Response(body, mimetype="text/csv", headers=headers)


def csv_lines(rows: Iterable[Mapping[str, Any]], cols: Sequence[str]) -> Iterator[str]:
    """The CSV text of the rows' shown values: a header of column names, then the rows."""
    return csvout.lines(cols, ([_shown(cell(item, c)) for c in cols] for item in rows))


# --- saved views -----------------------------------------------------------------------------


def _me() -> Account:
    """The signed-in account (every view here needs one)."""
    account = current_account()
    if account is None:
        raise ConfigError("sign in first")
    return account


def _saved_links(kind: ListKind) -> list[dict[str, str]]:
    """The account's saved views of this list: name, link and delete action."""
    views = saved_views.list_views(db(), _me().id, kind.page)
    return [
        {
            "name": v.name,
            "url": list_url(kind, parse_qsl(v.query)),
            "delete": _delete_url(kind, v.id),
        }
        for v in views
    ]


def _delete_url(kind: ListKind, view_id: int) -> str:
    """Where the delete button of a saved view posts."""
    if kind.page == "people":
        return url_for("lists.delete_people_view", view_id=view_id)
    return url_for("lists.delete_saas_view", view_id=view_id, **kind.url_args)


def clean_query(text: str) -> list[tuple[str, str]]:
    """The parts of a query string a saved view keeps: the view's state, never a cursor."""
    return [(k, v) for k, v in parse_qsl(text.lstrip("?")) if k in _STATE_KEYS and v]


def _save_view(kind: ListKind) -> ResponseReturnValue:
    """Save the posted query under the posted name, then show the saved view."""
    pairs = clean_query(request.form.get("query", ""))
    parse_query(_MultiArgs(pairs), kind)  # a view that cannot be shown is not saved
    name = request.form.get("name", "")
    view = saved_views.save_view(db(), _me().id, kind.page, name, urlencode(pairs))
    flash(f"Saved the view “{view.name}”.", "success")
    return redirect(list_url(kind, pairs))


def _delete_view(kind: ListKind, view_id: int) -> ResponseReturnValue:
    """Delete one of the account's saved views of this list."""
    view = saved_views.get_view(db(), _me().id, view_id)
    if view.page != kind.page:
        raise NotFoundError(f"no saved view with id {view_id} on this list")
    saved_views.delete_view(db(), _me().id, view_id)
    flash(f"Deleted the view “{view.name}”.", "success")
    return redirect(list_url(kind))


class _MultiArgs:
    """Query pairs with the `get`/`getlist` reading of request.args."""

    def __init__(self, pairs: Sequence[tuple[str, str]]) -> None:
        """Keep the pairs in order."""
        self.pairs = list(pairs)

    def get(self, key: str) -> str | None:
        """The first value of a key."""
        return next((v for k, v in self.pairs if k == key), None)

    def getlist(self, key: str) -> list[str]:
        """Every value of a key."""
        return [v for k, v in self.pairs if k == key]


@bp.post("/people/views")
@requires("viewer")
def save_people_view() -> ResponseReturnValue:
    """Save the current People view under a name."""
    return _save_view(_people_kind())


@bp.post("/people/views/<int:view_id>/delete")
@requires("viewer")
def delete_people_view(view_id: int) -> ResponseReturnValue:
    """Delete a saved People view."""
    return _delete_view(_people_kind(), view_id)


@bp.post("/saas/<app>/users/views")
@requires("viewer")
def save_saas_view(app: str) -> ResponseReturnValue:
    """Save the current view of a SaaS app's users under a name."""
    return _save_view(_saas_kind(app))


@bp.post("/saas/<app>/users/views/<int:view_id>/delete")
@requires("viewer")
def delete_saas_view(app: str, view_id: int) -> ResponseReturnValue:
    """Delete a saved view of a SaaS app's users."""
    return _delete_view(_saas_kind(app), view_id)


# --- detail pages ----------------------------------------------------------------------------


@bp.get("/people/<int:person_id>")
@requires("viewer")
def person(person_id: int) -> str:
    """One person: fields, custom fields, SaaS accounts and change history."""
    record = person_detail(db(), person_id)
    accounts = [
        {**u, "url": url_for("lists.saas_user", app=u["app"].lower(), user_id=u["id"])}
        for u in record["saas_users"]
    ]
    return render_template(
        "lists/person.html",
        record=record,
        fields=_fields(record, PEOPLE_COLUMNS),
        custom=sorted((record["custom"] or {}).items()),
        accounts=accounts,
        history=_history("person", person_id),
    )


@bp.get("/saas/<app>/users/<int:user_id>")
@requires("viewer")
def saas_user(app: str, user_id: int) -> str:
    """One SaaS user: fields, linked person and change history."""
    name = app_name(app)
    record = saas_user_detail(db(), user_id, app=name)
    person = record["person"]
    return render_template(
        "lists/saas_user.html",
        record=record,
        app=name,
        list_url=url_for("lists.saas_users", app=name.lower()),
        fields=_fields(record, SAAS_USER_COLUMNS),
        person=person,
        person_url=url_for("lists.person", person_id=person["id"]) if person else None,
        history=_history("saas_user", user_id),
    )


def _fields(record: Mapping[str, Any], columns: Iterable[str]) -> list[tuple[str, str]]:
    """A record's columns as (label, text) pairs."""
    return [(label(c), _shown(record.get(c))) for c in columns]


def _history(object_type: str, object_id: int) -> list[dict[str, Any]]:
    """A record's changes, newest first, each with the fields it changed."""
    changes = list_changes(db(), object_type=object_type, object_id=object_id, limit=HISTORY_LIMIT)
    return [{**change, "fields": _changed_fields(change)} for change in changes]


def _changed_fields(change: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    """(label, before, after) of each field a change touched."""
    before, after = change["before"] or {}, change["after"] or {}
    names = dict.fromkeys([*before, *after])
    return [(label(n), _shown(before.get(n)), _shown(after.get(n))) for n in names]
