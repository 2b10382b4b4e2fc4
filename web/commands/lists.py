"""`invsync people` and `invsync saas-users`: the inventory as table, JSON or CSV."""

from __future__ import annotations

import sys
from typing import Any

import click
from sqlalchemy import select

from inventory.models import CustomField
from inventory.queries import iter_people, iter_saas_users
from inventory.rules import Condition, Rule
from inventory.statuses import PersonStatus
from inventory.timeutil import utcnow
from web.commands.common import FORMAT, pass_ctx
from web.context import AppContext
from web.output import write_csv, write_json_list, write_table

PERSON_COLUMNS = [
    "username", "email", "first_name", "last_name", "full_name", "role", "job_title", "status",
    "created_at", "updated_at", "last_synced_at", "start_date", "department", "location",
    "personal_email", "manager_email",
]  # fmt: skip
PERSON_TABLE = ["email", "full_name", "role", "job_title", "status", "last_synced_at"]
# Listing people before day one, the table shows when each starts.
PRE_START_TABLE = [
    "email", "full_name", "role", "job_title", "status", "start_date", "department",
    "manager_email",
]  # fmt: skip
SAAS_COLUMNS = [
    "app", "external_id", "email", "name", "role", "status", "created_at", "deactivated_at",
    "last_login_at", "last_seen_at", "person_email",
]  # fmt: skip
SAAS_TABLE = ["email", "name", "role", "status", "last_login_at", "person_email"]


@click.group()
def people() -> None:
    """People records."""


@people.command("list")
@click.option("--format", "fmt", type=FORMAT, default="table")
@click.option("-q", "--search", default=None, help="Match name or email.")
@click.option(
    "--status",
    "statuses",
    multiple=True,
    metavar="STATUS",
    help=f"Only people in this status (repeat for several), e.g. {PersonStatus.PRE_START}.",
)
@pass_ctx
def people_list(app: AppContext, fmt: str, search: str | None, statuses: tuple[str, ...]) -> None:
    """List people (table, JSON or CSV), streamed."""
    with app.transaction() as session:
        rows = iter_people(session, q=search, rule=_in_status(statuses), now=utcnow())
        custom = list(session.scalars(select(CustomField.name).order_by(CustomField.name)))
        columns = PERSON_COLUMNS + [f"custom.{c}" for c in custom]
        _write_rows(rows, fmt, columns, _person_table(statuses))


def _in_status(statuses: tuple[str, ...]) -> Rule | None:
    """The rule of `--status`: any of the statuses (ignoring case, as every rule does)."""
    return Condition("status", "in", statuses) if statuses else None


def _person_table(statuses: tuple[str, ...]) -> list[str]:
    """The table's columns: with start dates when the list is of pre-start people."""
    pre_start = PersonStatus.PRE_START in (s.lower() for s in statuses)
    return PRE_START_TABLE if pre_start else PERSON_TABLE


@click.group("saas-users")
def saas_users() -> None:
    """SaaS-user records (one account in one app)."""


@saas_users.command("list")
@click.option("--app", "app_name", default="Lever", show_default=True)
@click.option("--format", "fmt", type=FORMAT, default="table")
@click.option("-q", "--search", default=None, help="Match name or email.")
@pass_ctx
def saas_users_list(app: AppContext, app_name: str, fmt: str, search: str | None) -> None:
    """List SaaS users of an app (table, JSON or CSV), streamed."""
    with app.transaction() as session:
        rows = iter_saas_users(session, app=app_name, q=search, now=utcnow())
        _write_rows(rows, fmt, SAAS_COLUMNS, SAAS_TABLE)


def _write_rows(rows: Any, fmt: str, columns: list[str], table_columns: list[str]) -> None:
    """Print a stream of records in the chosen format."""
    if fmt == "json":
        write_json_list(rows, sys.stdout)
    elif fmt == "csv":
        write_csv(rows, columns, sys.stdout)
    else:
        write_table(rows, table_columns, sys.stdout)


COMMANDS = [people, saas_users]
