"""`GET /api/v1/me`: who the token or session belongs to."""

from __future__ import annotations

from typing import Any

from web.api import bp, schemas
from web.api.spec import operation
from web.security import current_account, requires


@bp.get("/me")
@requires("viewer")
@operation("account", schemas.Me)
def me() -> dict[str, Any]:
    """The caller's account name and role."""
    account = current_account()
    assert account is not None
    return {"name": account.name, "role": account.role}
