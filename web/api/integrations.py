"""`/api/v1/integrations`: create, change, map, launch and schedule configured connectors."""

from __future__ import annotations

from typing import Any

from flask import url_for

from connector import integrations, schedules
from inventory.errors import ConfigError
from inventory.models import Integration
from web.api import bp, schemas
from web.api.spec import body, operation
from web.http import db, instance_settings
from web.security import requires


def integration_doc(integ: Integration) -> dict[str, Any]:
    """An integration in the API's shape: the CLI's JSON plus what a launch still needs."""
    missing = integrations.missing_for_launch(integ)
    doc = {**integrations.to_dict(integ), "missing_for_launch": missing}
    return dict(schemas.Integration().dump(doc))


@bp.get("/integrations")
@requires("admin")
@operation("integrations", schemas.IntegrationList)
def list_integrations() -> dict[str, Any]:
    """List integrations by name."""
    return {"items": [integration_doc(i) for i in integrations.list_all(db())]}


@bp.post("/integrations")
@requires("admin")
@operation(
    "integrations", schemas.Integration, status=201, body=schemas.IntegrationCreate,
    errors=(404, 409), headers={201: ("Location",)},
)  # fmt: skip
def create_integration() -> tuple[dict[str, Any], int, dict[str, str]]:
    """Create a draft integration; next, map it (smart mapping) and launch it."""
    spec = body(schemas.IntegrationCreate())
    spec.setdefault("base_url", instance_settings().lever_base_url)
    spec["contacts"] = tuple(spec.get("contacts", ()))
    integ = integrations.create(db(), integrations.NewIntegration(**spec))
    where = url_for("api.get_integration", name=integ.name)
    return integration_doc(integ), 201, {"Location": where}


@bp.get("/integrations/<name>")
@requires("admin")
@operation("integrations", schemas.Integration)
def get_integration(name: str) -> dict[str, Any]:
    """Show one integration."""
    return integration_doc(integrations.get(db(), name))


@bp.patch("/integrations/<name>")
@requires("admin")
@operation("integrations", schemas.Integration, body=schemas.IntegrationUpdate)
def update_integration(name: str) -> dict[str, Any]:
    """Change settings of an integration; what is not given stays as it is."""
    changes = body(schemas.IntegrationUpdate())
    if not changes:
        raise ConfigError("nothing to change: give at least one setting")
    if "contacts" in changes:
        changes["contacts"] = tuple(changes["contacts"])
    integ = integrations.update(db(), integrations.get(db(), name), changes)
    return integration_doc(integ)


@bp.post("/integrations/<name>/smart-mapping")
@requires("admin")
@operation("integrations", schemas.Integration, body=schemas.SmartMapping, body_optional=True)
def smart_mapping(name: str) -> dict[str, Any]:
    """Replace the mapping with the one proposed from field names and types."""
    options = body(schemas.SmartMapping(), optional=True)
    integ = integrations.get(db(), name)
    integrations.apply_smart_mapping(db(), integ, options.get("default_role"))
    return integration_doc(integ)


@bp.post("/integrations/<name>/launch")
@requires("admin")
@operation("integrations", schemas.Integration)
def launch(name: str) -> dict[str, Any]:
    """Leave draft (or resume): the integration syncs from now on, on its schedule."""
    integ = integrations.get(db(), name)
    integrations.launch(integ)
    return integration_doc(integ)


@bp.put("/integrations/<name>/schedule")
@requires("admin")
@operation("integrations", schemas.Schedule, body=schemas.ScheduleChange)
def set_schedule(name: str) -> dict[str, Any]:
    """Set when a launched integration syncs, its time zone, or pause or resume it."""
    change = body(schemas.ScheduleChange())
    if "expression" in change and "kind" not in change:
        raise ConfigError("give the schedule's kind (daily, every or cron) with its expression")
    if "kind" in change and "expression" not in change:
        raise ConfigError(f"give the expression of the {change['kind']} schedule")
    integ = integrations.get(db(), name)
    schedules.change(integ, **change)
    return dict(schemas.Schedule().dump(schedules.schedule_dict(integ)))
