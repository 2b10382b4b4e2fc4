"""`GET /api/v1/me`: who the token or session belongs to."""

from __future__ import annotations

from typing import Any

from web.api import bp
from web.security import current_account, requires


@bp.get("/me")
@requires("viewer")
def me() -> dict[str, Any]:
    """The caller's account name and role."""
    account = current_account()
    assert account is not None
    return {"name": account.name, "role": account.role}
