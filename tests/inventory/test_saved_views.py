"""Saved views: kept per account and page, replaced by name, private to their owner."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from inventory.errors import ConfigError, NotFoundError
from inventory.models import Account
from inventory.saved_views import MAX_NAME, delete_view, get_view, list_views, save_view


def account(session: Session, name: str) -> int:
    """A new account's id."""
    row = Account(name=name, name_key=name, password_hash="x" * 20, role="viewer")
    session.add(row)
    session.flush()
    return row.id


def test_views_are_listed_by_name_for_their_account_and_page(session: Session) -> None:
    ann, bob = account(session, "ann"), account(session, "bob")
    save_view(session, ann, "people", "zeta", "q=z")
    save_view(session, ann, "people", "Alpha", "?f=role:eq:admin")
    save_view(session, ann, "saas:lever", "lever only", "q=l")
    save_view(session, bob, "people", "bob's", "q=b")
    views = list_views(session, ann, "people")
    assert [(v.name, v.query) for v in views] == [("Alpha", "f=role:eq:admin"), ("zeta", "q=z")]
    assert [v.name for v in list_views(session, bob, "people")] == ["bob's"]


def test_saving_under_a_taken_name_replaces_the_query(session: Session) -> None:
    ann = account(session, "ann")
    first = save_view(session, ann, "people", "Mine", "q=a")
    again = save_view(session, ann, "people", "  Mine ", "q=b")
    assert again.id == first.id and [v.query for v in list_views(session, ann, "people")] == ["q=b"]


def test_only_the_owner_reads_or_deletes_a_view(session: Session) -> None:
    ann, bob = account(session, "ann"), account(session, "bob")
    view = save_view(session, ann, "people", "Mine", "q=a")
    for who in (bob,):
        with pytest.raises(NotFoundError, match=f"no saved view with id {view.id}"):
            get_view(session, who, view.id)
        with pytest.raises(NotFoundError):
            delete_view(session, who, view.id)
    assert delete_view(session, ann, view.id).name == "Mine"
    assert list_views(session, ann, "people") == []


@pytest.mark.parametrize(
    ("page", "name", "query", "message"),
    [
        ("people", "   ", "q=a", "give the view a name"),
        ("people", "n" * (MAX_NAME + 1), "q=a", "at most 200 characters"),
        ("people", "long", "q=" + "a" * 4000, "too long to save"),
        ("", "x", "q=a", "page must be"),
    ],
)
def test_a_bad_view_says_what_to_fix(
    session: Session, page: str, name: str, query: str, message: str
) -> None:
    ann = account(session, "ann")
    with pytest.raises(ConfigError, match=message):
        save_view(session, ann, page, name, query)
