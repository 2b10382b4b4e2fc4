"""Saved views: a list page's query string kept under a name, private to the account that saved it.

A view belongs to one account and one list page (such as "people" or "saas:lever"); names are
unique per account and page, so saving under a name that exists replaces that view's query.
Every function takes the account id, so one account can never read or remove another's views.
The functions take a Session and never commit.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from inventory.errors import ConfigError, NotFoundError
from inventory.models import SavedView
from inventory.timeutil import utcnow

__all__ = [
    "MAX_NAME",
    "MAX_QUERY",
    "delete_view",
    "get_view",
    "list_views",
    "save_view",
]

MAX_NAME = 200
MAX_PAGE = 40
MAX_QUERY = 4000


def list_views(session: Session, account_id: int, page: str) -> list[SavedView]:
    """An account's saved views of one page, by name (ignoring case)."""
    stmt = (
        select(SavedView)
        .where(SavedView.account_id == account_id, SavedView.page == page)
        .order_by(func.lower(SavedView.name), SavedView.id)
    )
    return list(session.scalars(stmt))


def save_view(
    session: Session,
    account_id: int,
    page: str,
    name: str,
    query: str,
    *,
    now: datetime | None = None,
) -> SavedView:
    """Keep `query` under `name` for the account's page, replacing a view of that name."""
    name, query = _checked(page, name, query)
    view = session.scalars(
        select(SavedView).where(
            SavedView.account_id == account_id, SavedView.page == page, SavedView.name == name
        )
    ).first()
    if view is None:
        view = SavedView(account_id=account_id, page=page, name=name, created_at=now or utcnow())
        session.add(view)
    view.query = query
    session.flush()
    return view


def _checked(page: str, name: str, query: str) -> tuple[str, str]:
    """The name and query as stored, or a ConfigError that says what to fix."""
    name = " ".join(name.split())
    if not page or len(page) > MAX_PAGE:
        raise ConfigError(f"a saved view's page must be 1 to {MAX_PAGE} characters")
    if not name:
        raise ConfigError("give the view a name")
    if len(name) > MAX_NAME:
        raise ConfigError(f"a view's name must be at most {MAX_NAME} characters")
    if len(query) > MAX_QUERY:
        raise ConfigError(f"this view is too long to save (over {MAX_QUERY} characters)")
    return name, query.lstrip("?")


def get_view(session: Session, account_id: int, view_id: int) -> SavedView:
    """One of the account's saved views; another account's view is not found."""
    view = session.get(SavedView, view_id)
    if view is None or view.account_id != account_id:
        raise NotFoundError(f"no saved view with id {view_id}")
    return view


def delete_view(session: Session, account_id: int, view_id: int) -> SavedView:
    """Remove one of the account's saved views; returns it (for its name and page)."""
    view = get_view(session, account_id, view_id)
    session.delete(view)
    session.flush()
    return view
