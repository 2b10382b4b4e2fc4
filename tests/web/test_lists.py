"""The People and Lever-user list pages: search, filters, order, columns, keyset pages, CSV
export, saved views and detail pages, with every Lever value shown as data, never markup."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, date, datetime, timedelta
from html import unescape
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session, sessionmaker

from inventory.changelog import set_actor
from inventory.models import CustomField, Person, SaasApp, SaasUser
from inventory.records import add_records, set_fields
from inventory.settings import Settings
from inventory.timeutil import utcnow
from tests.conftest import API_KEY, Sim
from tests.inventory.test_queries import add_hires
from tests.web.conftest import SignIn, csrf_of

EVIL = "<script>alert(1)</script>"
ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"
OLD = utcnow() - timedelta(days=400)
RECENT = utcnow() - timedelta(days=2)


class _Table(HTMLParser):
    """The header and body cells of one table (by id), as text, and each row's links."""

    def __init__(self, table_id: str) -> None:
        super().__init__()
        self.table_id, self.inside, self.depth = table_id, False, 0
        self.headers: list[str] = []
        self.rows: list[list[str]] = []
        self.links: list[list[str]] = []
        self._cell: list[str] | None = None
        self._section = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "table" and found.get("id") == self.table_id:
            self.inside = True
        if not self.inside:
            return
        if tag in ("thead", "tbody"):
            self._section = tag
        elif tag == "tr" and self._section == "tbody":
            self.rows.append([])
            self.links.append([])
        elif tag in ("td", "th"):
            self._cell = []
        elif tag == "a" and self._section == "tbody" and self.links:
            self.links[-1].append(found.get("href") or "")

    def handle_endtag(self, tag: str) -> None:
        if not self.inside:
            return
        if tag == "table":
            self.inside = False
        elif tag in ("td", "th") and self._cell is not None:
            text = " ".join("".join(self._cell).split()).replace("▲", "").replace("▼", "").strip()
            (self.headers if self._section == "thead" else self.rows[-1]).append(text)
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def table(html: str, table_id: str) -> _Table:
    """The parsed table of a page."""
    parsed = _Table(table_id)
    parsed.feed(html)
    return parsed


def link(html: str, text: str) -> str | None:
    """The href of the link labelled `text`, if the page has one."""
    found = re.search(rf'<a href="([^"]+)"[^>]*>{re.escape(text)}</a>', html)
    return unescape(found.group(1)) if found else None


def page(browser: FlaskClient, url: str, status: int = 200) -> str:
    """A page's HTML, checked for its status."""
    response = browser.get(url)
    assert response.status_code == status, response.get_data(as_text=True)[:2000]
    return response.get_data(as_text=True)


# --- an instance synced from the Lever simulator ------------------------------------------------


@pytest.fixture
def lever_sim(lever_sim: Sim) -> Sim:
    """The shared simulator with one more user, whose name and job title are markup; the shared
    `synced` fixture syncs it."""
    lever_sim[0].add_user(name=f"Mallory {EVIL}", email="mallory@example.com", jobTitle=EVIL)
    return lever_sim


def test_lever_users_show_their_roles_and_hostile_names_as_text(
    synced: Sim, signed_in: SignIn
) -> None:
    viewer = signed_in("viewer")
    html = page(viewer, "/saas/lever/users")
    users = table(html, "saas-users-table")
    assert "Role" in users.headers
    roles = {row[users.headers.index("Role")] for row in users.rows}
    assert "interviewer" in roles
    found = page(viewer, "/saas/Lever/users?q=mallory")
    assert EVIL not in found and ESCAPED in found
    assert table(found, "saas-users-table").rows[0][1] == f"Mallory {EVIL}"
    person = page(viewer, "/people?q=mallory")
    assert EVIL not in person and ESCAPED in person
    assert API_KEY not in html + found + person


def test_keyset_pages_walk_every_lever_user_once(synced: Sim, signed_in: SignIn) -> None:
    viewer = signed_in("viewer")
    url: str | None = "/saas/lever/users?size=100&sort=name"
    seen: list[str] = []
    pages = 0
    while url is not None:
        html = page(viewer, url)
        seen += [row[0] for row in table(html, "saas-users-table").links]
        assert (link(html, "First page") is not None) is (pages > 0)
        url, pages = link(html, "Next page"), pages + 1
        assert url is None or ("after=" in url and "sort=name" in url and "size=100" in url)
    assert pages == 3 and len(seen) == 251 == len(set(seen))


def test_a_bad_cursor_is_a_400_with_the_fix(synced: Sim, signed_in: SignIn) -> None:
    html = page(signed_in("viewer"), "/people?after=garbage", 400)
    assert "start again without" in html


# --- a small hand-made inventory ----------------------------------------------------------------


def _person(email: str, name: str, role: str, **fields: Any) -> Person:
    """A person with its sync key."""
    return Person(email=email, email_key=email.lower(), full_name=name, role=role, **fields)


@pytest.fixture
def inventory(session_factory: sessionmaker[Session]) -> dict[str, int]:
    """Four people (two with a cost centre), Lever accounts for two; their ids by email."""
    with session_factory.begin() as session:
        session.add(CustomField(name="Cost centre"))
        people = [
            _person("ann@corp.example", "Ann Archer", "admin", custom={"Cost centre": "EU-1"},
                    last_synced_at=RECENT),
            _person("bob@corp.example", "Bob Baker", "interviewer",
                    custom={"Cost centre": "US-2"}, last_synced_at=OLD),
            _person("cy@other.example", "Cy Cole", "interviewer", job_title="=HYPERLINK(1)",
                    last_synced_at=OLD),
            _person("di@corp.example", f"Di {EVIL}", "team member"),
        ]  # fmt: skip
        add_records(session, people, utcnow())
        lever = SaasApp(name="Lever", vendor="Lever")
        session.add(lever)
        session.flush()
        ids = {p.email: p.id for p in people}
        for ext, p, role in (("l-1", people[0], "super admin"), ("l-2", people[1], "interviewer")):
            user = SaasUser(app_id=lever.id, external_id=ext, email=p.email, email_key=p.email_key,
                            name=p.full_name, role=role, person_id=p.id)  # fmt: skip
            add_records(session, [user], utcnow())
            ids[ext] = user.id
    return ids


def emails_of(html: str, table_id: str = "people-table") -> list[str]:
    """The first column (email, by default) of a list page's rows."""
    return [row[0] for row in table(html, table_id).rows]


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ("f=custom.Cost centre:eq:eu-1", ["ann@corp.example"]),
        ("f=custom.Cost centre:is_not_empty:", ["ann@corp.example", "bob@corp.example"]),
        ("f=email:ends_with:@corp.example&f=role:ne:admin",
         ["bob@corp.example", "di@corp.example"]),
        ("f=last_synced_at:older_than_days:30", ["bob@corp.example", "cy@other.example"]),
        ("f=role:in:admin, team member", ["ann@corp.example", "di@corp.example"]),
        ("f=last_synced_at:gt:2000-01-01T00:00:00Z&q=corp",
         ["ann@corp.example", "bob@corp.example"]),
    ],
)  # fmt: skip
def test_filters_take_columns_custom_fields_and_rule_operators(
    inventory: dict[str, int], signed_in: SignIn, filters: str, expected: list[str]
) -> None:
    html = page(signed_in("viewer"), f"/people?{filters}")
    assert emails_of(html) == expected


def test_the_filter_form_adds_a_filter_and_keeps_the_view(
    inventory: dict[str, int], signed_in: SignIn
) -> None:
    viewer = signed_in("viewer")
    form = {"q": "corp", "sort": "full_name", "ff": "role", "fo": "eq", "fv": "interviewer"}
    answer = viewer.get("/people", query_string=form)
    assert answer.status_code == 302
    target = answer.headers["Location"]
    assert parse_qs(urlsplit(target).query) == {
        "q": ["corp"], "sort": ["full_name"], "f": ["role:eq:interviewer"]
    }  # fmt: skip
    html = page(viewer, target)
    assert emails_of(html) == ["bob@corp.example"]
    remove = link(html, "Remove")
    assert remove is not None and "f=" not in remove and "q=corp" in remove


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("f=role:equals:x", "unknown operator 'equals'"),
        ("f=salary:eq:1", "unknown field 'salary'"),
        ("f=last_synced_at:older_than_days:soon", "needs a whole number of days"),
        ("f=role", "write it as field:op:value"),
        ("sort=password", "cannot sort by 'password'"),
        ("cols=email,secret", "unknown column 'secret'"),
        ("size=5000", "size must be one of"),
    ],
)
def test_a_bad_query_is_a_400_that_says_what_to_fix(
    inventory: dict[str, int], signed_in: SignIn, query: str, message: str
) -> None:
    viewer = signed_in("viewer")
    for fmt in ("", "&format=csv"):
        html = page(viewer, f"/people?{query}{fmt}", 400)
        assert message in unescape(html)


def test_sorting_by_any_column_either_way(inventory: dict[str, int], signed_in: SignIn) -> None:
    viewer = signed_in("viewer")
    html = page(viewer, "/people?sort=full_name&dir=desc")
    assert emails_of(html) == [
        "di@corp.example", "cy@other.example", "bob@corp.example", "ann@corp.example"
    ]  # fmt: skip
    header = table(html, "people-table").headers.index("Full name")
    assert 'aria-sort="descending"' in html
    flip = link(html, "Full name")
    assert flip is not None and "dir=" not in flip and "sort=full_name" in flip
    assert header == 1
    by_role = emails_of(page(viewer, "/people?sort=role"))
    assert by_role[0] == "ann@corp.example" and by_role[-1] == "di@corp.example"


def test_the_column_chooser_picks_columns_including_custom_fields(
    inventory: dict[str, int], signed_in: SignIn
) -> None:
    viewer = signed_in("viewer")
    html = page(viewer, "/people?cols=email,custom.Cost centre&q=ann")
    grid = table(html, "people-table")
    assert grid.headers == ["Email", "Cost centre"] and grid.rows == [["ann@corp.example", "EU-1"]]
    ticked = page(viewer, "/people?cols=role&cols=email")
    assert table(ticked, "people-table").headers == ["Role", "Email"]
    assert '<details class="list-columns">' in html and 'value="custom.Cost centre" checked' in html


def test_csv_export_is_exactly_the_view(inventory: dict[str, int], signed_in: SignIn) -> None:
    viewer = signed_in("viewer")
    view = (
        "/people?q=example&f=role:ne:admin&sort=full_name&dir=desc"
        "&cols=email,full_name,role,custom.Cost centre,job_title"
    )
    html = page(viewer, view)
    export = link(html, "Export CSV")
    assert export is not None and "format=csv" in export
    answer = viewer.get(export)
    assert answer.status_code == 200 and answer.mimetype == "text/csv"
    assert answer.headers["Content-Disposition"] == "attachment; filename=people.csv"
    rows = list(csv.reader(io.StringIO(answer.get_data(as_text=True))))
    assert rows[0] == ["email", "full_name", "role", "custom.Cost centre", "job_title"]
    shown = table(html, "people-table").rows
    formula = ["cy@other.example", "Cy Cole", "interviewer", "", "'=HYPERLINK(1)"]
    assert rows[1:] == [formula if r[0] == "cy@other.example" else r for r in shown]
    assert [r[0] for r in rows[1:]] == ["di@corp.example", "cy@other.example", "bob@corp.example"]


def test_lever_users_export_as_lever_users_csv(
    inventory: dict[str, int], signed_in: SignIn
) -> None:
    answer = signed_in("viewer").get("/saas/lever/users?format=csv&cols=email,role,person_email")
    assert answer.headers["Content-Disposition"] == "attachment; filename=lever-users.csv"
    assert answer.get_data(as_text=True).splitlines() == [
        "email,role,person_email",
        "ann@corp.example,super admin,ann@corp.example",
        "bob@corp.example,interviewer,bob@corp.example",
    ]


def test_saved_views_are_saved_used_and_deleted_by_their_owner(
    inventory: dict[str, int], signed_in: SignIn
) -> None:
    viewer = signed_in("viewer")
    token = csrf_of(viewer, "/people")
    query = "f=role:eq:interviewer&sort=full_name&after=abc"
    saved = viewer.post(
        "/people/views", data={"name": "Interviewers", "query": query, "csrf_token": token}
    )
    assert saved.status_code == 302
    assert "after" not in saved.headers["Location"]
    html = page(viewer, "/people")
    used = link(html, "Interviewers")
    assert used is not None and "after" not in used
    assert emails_of(page(viewer, used)) == ["bob@corp.example", "cy@other.example"]
    assert "Interviewers" not in page(signed_in("author"), "/people")
    view_id = int(re.findall(r"/people/views/(\d+)/delete", html)[0])
    assert viewer.post(f"/people/views/{view_id}/delete").status_code == 403
    gone = viewer.post(f"/people/views/{view_id}/delete", data={"csrf_token": token})
    assert gone.status_code == 302
    assert link(page(viewer, "/people"), "Interviewers") is None


def test_saving_a_view_needs_the_csrf_token_and_a_name(
    inventory: dict[str, int], signed_in: SignIn
) -> None:
    viewer = signed_in("viewer")
    refused = viewer.post("/people/views", data={"name": "x", "query": "q=ann"})
    assert refused.status_code == 403
    token = csrf_of(viewer, "/people")
    nameless = viewer.post("/people/views", data={"name": " ", "query": "q=a", "csrf_token": token})
    assert nameless.status_code == 400 and "give the view a name" in nameless.get_data(as_text=True)
    broken = viewer.post(
        "/people/views", data={"name": "x", "query": "f=role:nope:1", "csrf_token": token}
    )
    assert broken.status_code == 400 and "unknown operator" in unescape(
        broken.get_data(as_text=True)
    )


def test_another_account_cannot_delete_a_view(inventory: dict[str, int], signed_in: SignIn) -> None:
    viewer, author = signed_in("viewer"), signed_in("author")
    token = csrf_of(viewer, "/saas/lever/users")
    viewer.post(
        "/saas/lever/users/views", data={"name": "Mine", "query": "q=ann", "csrf_token": token}
    )
    view_id = int(re.findall(r"/views/(\d+)/delete", page(viewer, "/saas/lever/users"))[0])
    theirs = author.post(
        f"/saas/lever/users/views/{view_id}/delete",
        data={"csrf_token": csrf_of(author, "/saas/lever/users")},
    )
    assert theirs.status_code == 404
    assert "Mine" in page(viewer, "/saas/lever/users")
    assert "Mine" not in page(viewer, "/people")


def test_unknown_app_is_a_404_and_lever_needs_no_sync(
    settings: Settings, engine: object, signed_in: SignIn
) -> None:
    viewer = signed_in("viewer")
    html = page(viewer, "/saas/nope/users", 404)
    assert "no SaaS app named 'nope'" in unescape(html)
    empty = page(viewer, "/saas/LEVER/users")
    assert "Nothing matches this view." in empty and "Lever users" in empty


def test_rows_link_to_detail_pages(inventory: dict[str, int], signed_in: SignIn) -> None:
    viewer = signed_in("viewer")
    people = table(page(viewer, "/people?q=ann"), "people-table")
    assert people.links == [[f"/people/{inventory['ann@corp.example']}"]]
    users = table(page(viewer, "/saas/lever/users?q=ann"), "saas-users-table")
    person = f"/people/{inventory['ann@corp.example']}"
    assert users.links == [[f"/saas/lever/users/{inventory['l-1']}", person]]


def test_person_page_shows_fields_accounts_and_history_newest_first(
    inventory: dict[str, int], signed_in: SignIn, session_factory: sessionmaker[Session]
) -> None:
    ann = inventory["ann@corp.example"]
    with session_factory.begin() as session:
        set_actor(session, "web", "admin")
        person = session.get(Person, ann)
        assert person is not None
        set_fields(session, person, {"job_title": "Head of <b>IT</b>"}, utcnow())
    html = page(signed_in("viewer"), f"/people/{ann}")
    assert "Ann Archer" in html and "Head of &lt;b&gt;IT&lt;/b&gt;" in html
    assert "EU-1" in table(html, "person-custom-fields").rows[0]
    accounts = table(html, "person-saas-users")
    assert accounts.rows == [["Lever", "Ann Archer", "super admin", "active", ""]]
    history = table(html, "change-history")
    assert [row[1] for row in history.rows] == ["update", "create"]
    assert history.rows[0][2] == "web: admin" and "Job title" in history.rows[0][3]


def test_saas_user_page_shows_its_person_and_history(
    inventory: dict[str, int], signed_in: SignIn, session_factory: sessionmaker[Session]
) -> None:
    user_id = inventory["l-2"]
    with session_factory.begin() as session:
        set_actor(session, "integration", "lever", run_id=None)
        user = session.get(SaasUser, user_id)
        assert user is not None
        gone = {"status": "deactivated", "deactivated_at": datetime(2025, 1, 2, tzinfo=UTC)}
        set_fields(session, user, gone, utcnow())
    viewer = signed_in("viewer")
    html = page(viewer, f"/saas/lever/users/{user_id}")
    assert 'href="/people/{}"'.format(inventory["bob@corp.example"]) in html
    history = table(html, "change-history")
    assert [row[1] for row in history.rows] == ["deactivate", "create"]
    assert "interviewer" in html
    page(viewer, "/saas/lever/users/999999", 404)
    page(viewer, "/people/999999", 404)
    page(viewer, f"/saas/other/users/{user_id}", 404)


# --- hires: statuses, start dates, managers -------------------------------------------------------


@pytest.fixture
def hires(session_factory: sessionmaker[Session]) -> dict[str, int]:
    """The inventory tests' hires around 2024-07-01, committed; their ids by email."""
    with session_factory.begin() as session:
        return {email: p.id for email, p in add_hires(session, date(2024, 7, 1)).items()}


def names_of(html: str) -> list[str]:
    """The part before the @ of each row's email."""
    return [email.split("@")[0] for email in emails_of(html)]


def test_status_links_filter_to_pre_start_and_cancelled_people(
    hires: dict[str, int], signed_in: SignIn
) -> None:
    viewer = signed_in("viewer")
    everyone = page(viewer, "/people?q=corp&sort=full_name")
    pre_start = link(everyone, "Pre-start")
    assert pre_start is not None
    assert parse_qs(urlsplit(pre_start).query) == {
        "q": ["corp"], "sort": ["full_name"], "f": ["status:eq:pre_start"]
    }  # fmt: skip
    shown = page(viewer, pre_start)
    assert names_of(shown) == ["hana", "ivo", "jan", "kim", "lee", "max"]
    assert 'aria-current="page">Pre-start</a>' in shown
    cancelled = link(shown, "Cancelled")  # replaces the status filter, keeps the rest
    assert cancelled is not None and "pre_start" not in cancelled
    assert names_of(page(viewer, cancelled)) == ["nia"]
    anyone = link(shown, "Any status")
    assert anyone is not None and "f=" not in anyone and len(emails_of(page(viewer, anyone))) == 9


def test_pre_start_people_by_start_date_with_the_start_date_column(
    hires: dict[str, int], signed_in: SignIn
) -> None:
    viewer = signed_in("viewer")
    html = page(viewer, "/people?f=status:eq:pre_start&sort=start_date&size=25")
    grid = table(html, "people-table")
    assert "Start date" in grid.headers
    column = grid.headers.index("Start date")
    assert [(row[0].split("@")[0], row[column]) for row in grid.rows] == [
        ("lee", "2024-06-30"), ("hana", "2024-07-01"), ("ivo", "2024-07-06"),
        ("jan", "2024-07-30"), ("kim", "2024-07-31"), ("max", ""),
    ]  # fmt: skip
    flip = link(html, "Start date")
    assert flip is not None and "dir=desc" in flip and "sort=start_date" in flip
    assert names_of(page(viewer, flip)) == ["kim", "jan", "ivo", "hana", "lee", "max"]


def test_start_date_filters_and_the_hire_columns(hires: dict[str, int], signed_in: SignIn) -> None:
    viewer = signed_in("viewer")
    between = "/people?f=start_date:gt:2024-07-01&f=start_date:lt:2024-07-31"
    assert names_of(page(viewer, between)) == ["ivo", "jan", "nia", "oli"]
    assert names_of(page(viewer, "/people?f=start_date:eq:2024-07-01")) == ["hana"]
    cols = "cols=email,department,location,personal_email,manager_email"
    grid = table(page(viewer, f"/people?q=hana&{cols}"), "people-table")
    assert grid.headers == ["Email", "Department", "Location", "Personal email", "Manager"]
    assert grid.rows == [
        ["hana@corp.example", "Engineering", "Berlin", "hana@home.example", "mia@corp.example"]
    ]
    wrong = page(viewer, "/people?f=start_date:eq:soon", 400)
    assert "needs a date as YYYY-MM-DD" in unescape(wrong)


def test_a_persons_page_shows_the_hire_fields(hires: dict[str, int], signed_in: SignIn) -> None:
    html = page(signed_in("viewer"), f"/people/{hires['hana@corp.example']}")
    for text in ("Start date", "2024-07-01", "Department", "Berlin", "mia@corp.example"):
        assert text in html
