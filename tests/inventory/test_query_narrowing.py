"""What makes lists fast at scale must never change what they show: the trigram search tables,
the email-key ranges of prefix filters, and the two-part reading of nullable sort keys."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy.orm import Session

from inventory import queries
from inventory.models import Person, SaasApp, SaasUser
from inventory.queries import list_people, list_saas_users, person_to_dict, saas_user_to_dict
from inventory.rules import AllOf, Rule, evaluate, parse_rule
from inventory.upsert import email_key

NOW = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
KELVIN = "\u212a"  # folds to "k" in the sync key, but not under ASCII folding

PEOPLE = [
    ("zoe@example.com", "Zoë Ørsted", "Zoë", "Ørsted"),
    ("emile@example.com", "ÉMILE Dupont", "ÉMILE", "Dupont"),
    (" Pad@Example.com ", "Pad Spaces", "Pad", "Spaces"),
    ("q@example.com", 'Quote "Q" Person', "Quote", "Person"),
    ("real_1@example.com", "100% Real", None, None),
    ("real%1@example.com", "Almost Real", None, None),
    ("star@example.com", "Star*Gazer", "Star", None),
    (f"{KELVIN}elvin@example.com", "Kelvin Sign", "Kelvin", "Sign"),
    ("KELLY@EXAMPLE.ORG", "Kelly Upper", "Kelly", "Upper"),
    ("tilde~@example.com", "Tilde", None, None),
    *((f"user{i:02}@example.net", f"User {i:02}", "User", f"{i:02}") for i in range(8)),
]


@pytest.fixture
def database_url(shared_database_url: str) -> str:
    """One database per backend for the module: its tests roll back (the one that commits is
    marked `fresh_database`)."""
    return shared_database_url


@pytest.fixture
def people(session: Session) -> list[Person]:
    """Eighteen people whose names and emails try every corner of folding and escaping."""
    rows = [
        Person(
            email=email,
            email_key=email_key(email),
            full_name=full,
            first_name=first,
            last_name=last,
            created_at=NOW,
            updated_at=NOW,
        )
        for email, full, first, last in PEOPLE
    ]
    session.add_all(rows)
    session.flush()
    return rows


def expected_people(session: Session, rule: Rule) -> list[str]:
    """The emails the rule selects, tested in Python one person at a time, in email-key order."""
    every = session.query(Person).order_by(Person.email_key, Person.id).all()
    return [p.email for p in every if evaluate(rule, person_to_dict(p), NOW)]


def listed(session: Session, **options: Any) -> list[str]:
    """The emails of one big page of people."""
    return [p["email"] for p in list_people(session, limit=1000, now=NOW, **options).items]


SEARCHES = [
    "zoë", "ZOË", "ørs", "ÉMILE", "émile", "dupont", 'Q"', '"Q"', "quote q", "100%", "%",
    "_1", "l_1", "star*", "*", "ex", "example", "exa mple", "pad@", "pad@example.com ",
    "kelvin", "elvin@", "user 03", "USER0", "er0", "nobody", "a", "",
]  # fmt: skip


@pytest.mark.parametrize("q", SEARCHES)
def test_search_finds_what_a_row_by_row_test_finds(
    session: Session, people: list[Person], q: str
) -> None:
    rule = AllOf(queries._search_rules(queries._PEOPLE, q))
    assert listed(session, q=q) == expected_people(session, rule)


@pytest.mark.parametrize("q", ["user", "example zoë", "er0", "kel"])
def test_a_word_held_by_more_rows_than_the_cap_gives_the_same_rows(
    session: Session, people: list[Person], monkeypatch: pytest.MonkeyPatch, q: str
) -> None:
    wanted = listed(session, q=q)
    monkeypatch.setattr(queries, "SEARCH_CAP", 2)
    assert listed(session, q=q) == wanted
    assert wanted == expected_people(session, AllOf(queries._search_rules(queries._PEOPLE, q)))


def test_sqlite_reads_only_the_rows_the_trigram_table_names(
    session: Session, people: list[Person], statements: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    listed(session, q="ørsted")
    page_query = statements[-1]
    narrowed = "people_search MATCH" in page_query
    assert narrowed == (session.get_bind().dialect.name == "sqlite")
    monkeypatch.setattr(queries, "SEARCH_CAP", 2)
    statements.clear()
    listed(session, q="user")  # eight rows hold it: walked in order instead
    assert "MATCH" not in statements[-1]


@pytest.mark.fresh_database
def test_search_follows_every_edit(session: Session, people: list[Person]) -> None:
    ada = Person(
        email="ada@example.com", email_key="ada@example.com", full_name="Ada Lovelace",
        created_at=NOW, updated_at=NOW,
    )  # fmt: skip
    session.add(ada)
    session.flush()
    assert listed(session, q="lovelace") == ["ada@example.com"]
    ada.full_name = "Ada Byron"
    session.flush()
    assert listed(session, q="lovelace") == []
    assert listed(session, q="byron") == ["ada@example.com"]
    ada.job_title = "Countess"  # not a searched column
    session.flush()
    assert listed(session, q="byron") == ["ada@example.com"]
    ada.email, ada.email_key = "countess@example.com", "countess@example.com"
    session.flush()
    assert listed(session, q="ada@") == []
    assert listed(session, q="countess@") == ["countess@example.com"]
    session.delete(ada)
    session.flush()
    assert listed(session, q="byron") == []
    session.commit()
    assert listed(session, q="zoë") == ["zoe@example.com"]


EMAIL_FILTERS = [
    ("starts_with", "zoe@"), ("starts_with", "ZOE@"), ("starts_with", "pad@"),
    ("starts_with", " pad@"), ("starts_with", "kel"), ("starts_with", "KEL"),
    ("starts_with", "real_"), ("starts_with", "real%"), ("starts_with", "tilde~"),
    ("starts_with", "~"), ("starts_with", "user0"), ("starts_with", "zoë"),
    ("starts_with", "u"), ("eq", "q@example.com"), ("eq", "Q@EXAMPLE.COM"),
    ("eq", "pad@example.com"), ("eq", " Pad@Example.com "), ("eq", "kelly@example.org"),
    ("eq", f"{KELVIN}elvin@example.com"),
]  # fmt: skip


@pytest.mark.parametrize(("op", "value"), EMAIL_FILTERS)
def test_an_email_filter_finds_what_a_row_by_row_test_finds(
    session: Session, people: list[Person], op: str, value: str
) -> None:
    rule = parse_rule({"field": "email", "op": op, "value": value}, queries.PEOPLE_FIELDS)
    assert listed(session, rule=rule) == expected_people(session, rule)


def test_an_email_prefix_inside_a_larger_rule_still_narrows_correctly(
    session: Session, people: list[Person]
) -> None:
    doc = {
        "all": [
            {"field": "email", "op": "starts_with", "value": "user0"},
            {"any": [{"field": "last_name", "op": "eq", "value": "03"}, {"field": "email",
                     "op": "starts_with", "value": "zoe"}]},
        ]
    }  # fmt: skip
    rule = parse_rule(doc, queries.PEOPLE_FIELDS)
    assert listed(session, rule=rule) == ["user03@example.net"]


# --- SaaS users: nullable email keys read in two parts ------------------------------------------


@pytest.fixture
def lever_users(session: Session, people: list[Person]) -> SaasApp:
    """Lever with nine users, three of them without an email, and another app with one."""
    lever, other = SaasApp(name="Lever", vendor="Lever"), SaasApp(name="Other")
    session.add_all([lever, other])
    session.flush()
    emails = [
        "b@x.io", None, "A@x.io", "c@x.io", None, "b@x.io", "zoë@x.io", None, " d@X.io"
    ]  # fmt: skip
    session.add_all(
        SaasUser(
            app_id=lever.id, external_id=f"l-{i}", email=email, email_key=email_key(email),
            name=f"Lever {i}" if i % 4 else None, role="Interviewer", created_at=NOW,
        )
        for i, email in enumerate(emails)
    )  # fmt: skip
    session.add(SaasUser(app_id=other.id, external_id="o-1", email="a@x.io", email_key="a@x.io"))
    session.flush()
    return lever


def expected_users(session: Session, rule: Rule | None, descending: bool) -> list[str]:
    """Lever users the rule selects, in (email key, id) order, those without an email last."""
    every = session.query(SaasUser).join(SaasApp).filter(SaasApp.name == "Lever").all()
    chosen = [
        u for u in every if rule is None or evaluate(rule, saas_user_to_dict(u, "Lever", None), NOW)
    ]
    keyed = sorted(
        (u for u in chosen if u.email_key is not None),
        key=lambda u: (u.email_key, u.id),
        reverse=descending,
    )
    keyless = sorted(
        (u for u in chosen if u.email_key is None), key=lambda u: u.id, reverse=descending
    )
    return [u.external_id for u in keyed + keyless]


def walk_users(session: Session, limit: int, **options: Any) -> list[str]:
    """Every Lever user, page by page, following the cursors."""
    found: list[str] = []
    after = None
    while True:
        page = list_saas_users(session, app="Lever", after=after, limit=limit, now=NOW, **options)
        assert len(page.items) == limit or page.next_cursor is None
        found += [u["external_id"] for u in page.items]
        if page.next_cursor is None:
            return found
        after = page.next_cursor


@pytest.mark.parametrize("descending", [False, True])
@pytest.mark.parametrize("limit", [1, 2, 6, 9, 50])
def test_lever_users_by_email_visit_every_user_once_nulls_last(
    session: Session, lever_users: SaasApp, descending: bool, limit: int
) -> None:
    found = walk_users(session, limit, descending=descending)
    assert found == expected_users(session, None, descending)
    assert found[-3:] == (["l-7", "l-4", "l-1"] if descending else ["l-1", "l-4", "l-7"])


@pytest.mark.parametrize("descending", [False, True])
def test_lever_users_by_name_page_across_the_nulls(
    session: Session, lever_users: SaasApp, descending: bool
) -> None:
    found = walk_users(session, 2, sort="name", descending=descending)
    whole = list_saas_users(session, app="Lever", sort="name", descending=descending, now=NOW)
    assert found == [u["external_id"] for u in whole.items]
    assert found[-3:] == (["l-8", "l-4", "l-0"] if descending else ["l-0", "l-4", "l-8"])


@pytest.mark.parametrize(
    "doc",
    [
        {"field": "email", "op": "starts_with", "value": "b@"},
        {"field": "email", "op": "starts_with", "value": "D@"},
        {"field": "email", "op": "eq", "value": "a@X.IO"},
        {"field": "email", "op": "starts_with", "value": "zoë"},
    ],
)
def test_lever_user_email_filters_find_what_a_row_by_row_test_finds(
    session: Session, lever_users: SaasApp, doc: dict[str, str]
) -> None:
    rule = parse_rule(doc, queries.SAAS_USER_FIELDS)
    page = list_saas_users(session, app="Lever", rule=rule, now=NOW)
    assert [u["external_id"] for u in page.items] == expected_users(session, rule, False)


@pytest.mark.parametrize("q", ["lever 1", "x.io", "ZOË", "b@x", "lever", "io"])
def test_lever_user_search_finds_what_a_row_by_row_test_finds(
    session: Session, lever_users: SaasApp, q: str
) -> None:
    rule = AllOf(queries._search_rules(queries._SAAS_USERS, q))
    page = list_saas_users(session, app="Lever", q=q, now=NOW)
    assert [u["external_id"] for u in page.items] == expected_users(session, rule, False)
