"""Presets: data that fills an action block for a vendor. Lever's are registered here, through
the same hook an extension uses to add its own."""

from __future__ import annotations

from workflows.registry import Preset, Registry

__all__ = ["LEVER_PRESETS", "register"]

LEVER_PRESETS = (
    Preset(
        name="lever_user_role",
        block_type="saas_user_role",
        vendor="Lever",
        description=(
            "Lever User Role: read the user's access role from Lever and store it on the SaaS "
            "user; with deactivate_user (default true) a user Lever does not have, or has "
            "deactivated, becomes deactivated. Many records cost one read of Lever's user list."
        ),
        operation="user_role",
        defaults={"deactivate_user": True},
    ),
    Preset(
        name="lever_delete_user",
        block_type="api",
        vendor="Lever",
        description=(
            "Lever Delete User: Lever has no delete, so deactivate the user in Lever "
            "(POST /users/{id}/deactivate; already deactivated counts as done) and mark the "
            "SaaS user deactivated."
        ),
        operation="deactivate_user",
    ),
    Preset(
        name="lever_reactivate_user",
        block_type="api",
        vendor="Lever",
        description=(
            "Lever Reactivate User: reactivate the user in Lever (POST /users/{id}/reactivate; "
            "already active counts as done) and mark the SaaS user active."
        ),
        operation="reactivate_user",
    ),
)


def register(registry: Registry) -> None:
    """Register Lever's presets."""
    for preset in LEVER_PRESETS:
        registry.add_preset(preset)
