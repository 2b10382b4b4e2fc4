"""`GET /api/v1/changes`: the change log of people and SaaS users, newest first."""

from __future__ import annotations

from typing import Any

from inventory.changelog import list_changes
from web.api import bp, schemas
from web.api.spec import operation, query
from web.http import db
from web.security import requires


@bp.get("/changes")
@requires("viewer")
@operation("changes", schemas.ChangeList, query=schemas.ChangeQuery)
def changes() -> dict[str, Any]:
    """List who created, changed or deactivated which record, of one object type or one run."""
    args = query(schemas.ChangeQuery())
    rows = list_changes(
        db(), object_type=args.get("object"), run_id=args.get("run"), limit=args["limit"]
    )
    return dict(schemas.ChangeList().dump({"items": list(rows)}))
