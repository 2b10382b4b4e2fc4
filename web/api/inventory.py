"""`/api/v1/people` and `/api/v1/saas-users`: searchable, filterable lists with keyset pages.

A filter is `field:op:value` (repeatable; `in`/`not_in` take comma-separated values, `is_empty`
takes none), or a whole JSON rule tree in `rule=`; all of them must hold. A malformed one is a
400 naming the fault, as the rule engine words it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from inventory import queries
from inventory.errors import NotFoundError, RuleError
from inventory.models import Person, SaasApp, SaasUser
from inventory.rules import AllOf, FieldSpec, Rule, parse_filter, parse_rule
from inventory.timeutil import utcnow
from inventory.upsert import email_key
from web.api import bp, schemas
from web.api.spec import operation, query
from web.http import db
from web.security import requires


@bp.get("/people")
@requires("viewer")
@operation("inventory", schemas.PersonPage, query=schemas.ListQuery)
def list_people() -> dict[str, Any]:
    """List people: search, filter, sort and page through them."""
    args = query(schemas.ListQuery())
    session = db()
    rule = read_rule(args, queries.people_fields(session))
    page = queries.list_people(session, rule=rule, **_paging(args), now=utcnow())
    return schemas.PersonPage().dump(_with_person_ids(session, page))


@bp.get("/people/<int(max=2147483647):id>")
@requires("viewer")
@operation("inventory", schemas.Person)
def get_person(id: int) -> dict[str, Any]:
    """Show one person."""
    person = db().get(Person, id)
    if person is None:
        raise NotFoundError(f"no person with id {id}: list them at /api/v1/people")
    manager = queries.manager_email_of(db(), person)
    return schemas.Person().dump({"id": person.id, **queries.person_to_dict(person, manager)})


@bp.get("/saas-users")
@requires("viewer")
@operation("inventory", schemas.SaasUserPage, query=schemas.SaasUserListQuery)
def list_saas_users() -> dict[str, Any]:
    """List SaaS users (of one app with `app=`): search, filter, sort and page through them."""
    args = query(schemas.SaasUserListQuery())
    session = db()
    rule = read_rule(args, queries.SAAS_USER_FIELDS)
    page = queries.list_saas_users(
        session, app=args.get("app"), rule=rule, **_paging(args), now=utcnow()
    )
    return schemas.SaasUserPage().dump(_with_saas_user_ids(session, page))


@bp.get("/saas-users/<int(max=2147483647):id>")
@requires("viewer")
@operation("inventory", schemas.SaasUser)
def get_saas_user(id: int) -> dict[str, Any]:
    """Show one SaaS user."""
    user = db().get(SaasUser, id)
    if user is None:
        raise NotFoundError(f"no SaaS user with id {id}: list them at /api/v1/saas-users")
    email = user.person.email if user.person else None
    return schemas.SaasUser().dump(
        {"id": user.id, **queries.saas_user_to_dict(user, user.app.name, email)}
    )


# --- reading the query string -----------------------------------------------------------------


def _paging(args: Mapping[str, Any]) -> dict[str, Any]:
    """The search, sort and page arguments of the list queries."""
    return {
        "q": args.get("q"),
        "sort": args["sort"],
        "descending": args["order"] == "desc",
        "after": args.get("cursor"),
        "limit": args["limit"],
    }


def read_rule(args: Mapping[str, Any], fields: Mapping[str, FieldSpec]) -> Rule | None:
    """Every `filter` and the `rule` as one checked rule, or None when there are none."""
    parts = [parse_filter(text, fields) for text in args.get("filter") or ()]
    if args.get("rule"):
        parts.append(parse_rule(_rule_doc(args["rule"]), fields))
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else AllOf(tuple(parts))


def _rule_doc(text: str) -> Any:
    """The JSON of `rule=`."""
    try:
        return json.loads(text)
    except ValueError as exc:
        raise RuleError(f"rule: not valid JSON ({exc})") from None


# --- ids for the list items -------------------------------------------------------------------


def _with_person_ids(session: Session, page: queries.Page) -> dict[str, Any]:
    """The page with each person's id, found by its unique email key."""
    keys = [email_key(item["email"]) or "" for item in page.items]
    found = session.execute(select(Person.email_key, Person.id).where(Person.email_key.in_(keys)))
    ids: dict[str, int] = {key: id_ for key, id_ in found}
    items = [{"id": ids[key], **item} for key, item in zip(keys, page.items, strict=True)]
    return {"items": items, "next_cursor": page.next_cursor}


def _with_saas_user_ids(session: Session, page: queries.Page) -> dict[str, Any]:
    """The page with each SaaS user's id, found by its app and external id (unique together)."""
    wanted = {item["external_id"] for item in page.items}
    rows = session.execute(
        select(SaasApp.name, SaasUser.external_id, SaasUser.id)
        .join(SaasApp, SaasUser.app_id == SaasApp.id)
        .where(SaasUser.external_id.in_(wanted))
    )
    ids = {(app, external): id_ for app, external, id_ in rows}
    items = [{"id": ids[(i["app"], i["external_id"])], **i} for i in page.items]
    return {"items": items, "next_cursor": page.next_cursor}
