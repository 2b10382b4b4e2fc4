"""`invsync integration`: create, map, launch, list and show integrations."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from connector import integrations, schedules
from connector.hires.signature import DEFAULT_MAX_AGE
from connector.mapping import load_entries
from inventory.errors import ConfigError
from web.commands.common import TABLE_OR_JSON, pass_ctx
from web.context import AppContext
from web.output import write_json, write_table


@click.group()
def integration() -> None:
    """Configured connectors: create, map, launch."""


def _lifecycle_options(fn: Any) -> Any:
    """The reconciliation, notice and login-activity options shared by create and update."""
    options = [
        click.option("--deactivate-missing/--keep-missing", default=None,
                     help="After a complete read, re-check SaaS users Lever no longer lists "
                          "(default on with SaaS users)."),
        click.option("--max-deactivate", type=click.IntRange(min=0), default=None,
                     help="Hold a run that would deactivate more than this many SaaS users "
                          "(default 10% of the active ones, at least 5)."),
        click.option("--contact", "contacts", multiple=True, metavar="EMAIL",
                     help="Email a notice to this address when a run fails or is held."),
        click.option("--login-activity", type=click.Choice(["audit-events", "none"]),
                     default=None, help="Read last logins from Lever Audit Events."),
    ]  # fmt: skip
    for option in reversed(options):
        fn = option(fn)
    return fn


def _hire_options(fn: Any) -> Any:
    """The settings of a `--connector lever-hires` integration, shared by create and update."""
    options = [
        click.option("--webhook-secret", default=None, metavar="CRED",
                     help="Vault credential whose username is the Lever webhook's signature "
                          "token (lever-hires)."),
        click.option("--email-format", default=None,
                     help="Work email of a new hire, e.g. '{first}.{last}@example.com' "
                          "(lever-hires; placeholders {first} {last} {f} {l})."),
        click.option("--poll/--no-poll", default=None,
                     help="Read hired opportunities on the schedule (lever-hires; default on)."),
        click.option("--webhook-max-age", type=click.FloatRange(min=1), default=None,
                     help="Refuse a webhook triggered longer ago than this, in seconds "
                          "(lever-hires; default 300)."),
    ]  # fmt: skip
    for option in reversed(options):
        fn = option(fn)
    return fn


@integration.command("create")
@click.argument("name")
@click.option("--connector", default="lever", show_default=True)
@click.option("--credential", required=True, help="Name of a vault credential.")
@click.option(
    "--base-url", default=None, help="Lever API base URL (default INVSYNC_LEVER_BASE_URL)."
)
@click.option("--saas-users/--no-saas-users", default=True, show_default=True,
              help="Also keep SaaS-user records under the app 'Lever'.")  # fmt: skip
@click.option("--preference", default="create-update", show_default=True,
              type=click.Choice(["create-update", "create-only", "update-only"]))  # fmt: skip
@click.option("--sync-key", default="email", show_default=True)
@click.option("--max-rps", type=float, default=10.0, show_default=True, help="0 = unpaced.")
@click.option("--default-role", default="Employee", show_default=True)
@click.option(
    "--filter", "filter_json", default=None, help="Rule tree (JSON or @file) of users to sync."
)
@_lifecycle_options
@_hire_options
@pass_ctx
def integration_create(app: AppContext, name: str, **opts: Any) -> None:
    """Create a draft integration."""
    filters = _read_json_option("--filter", opts.pop("filter_json"))
    opts["base_url"] = opts["base_url"] or app.settings.lever_base_url
    opts["contacts"] = tuple(opts["contacts"])
    opts["login_activity"] = _none_word(opts["login_activity"])
    opts["poll"] = True if opts["poll"] is None else opts["poll"]
    opts["webhook_max_age"] = opts["webhook_max_age"] or DEFAULT_MAX_AGE
    spec = integrations.NewIntegration(name=name, filters=filters, **opts)
    with app.transaction() as session:
        integrations.create(session, spec)
    click.echo(
        f"created integration {name!r} (draft): next, `invsync integration map {name} --smart`"
    )


@integration.command("update")
@click.argument("name")
@click.option("--credential", default=None, help="Name of a vault credential.")
@click.option("--base-url", default=None)
@click.option("--saas-users/--no-saas-users", default=None)
@click.option("--preference", default=None,
              type=click.Choice(["create-update", "create-only", "update-only"]))  # fmt: skip
@click.option("--max-rps", type=float, default=None, help="0 = unpaced.")
@click.option("--default-role", default=None)
@click.option(
    "--filter", "filter_json", default=None, help="Rule tree (JSON or @file); 'null' clears."
)
@click.option("--clear-contacts", is_flag=True, help="Remove every notice contact first.")
@_lifecycle_options
@_hire_options
@pass_ctx
def integration_update(app: AppContext, name: str, clear_contacts: bool, **opts: Any) -> None:
    """Change settings of an integration; options not given stay as they are."""
    changes = {
        k: v for k, v in opts.items() if v is not None and k not in ("contacts", "filter_json")
    }
    if opts["filter_json"] is not None:
        changes["filters"] = _read_json_option("--filter", opts["filter_json"])
    if "login_activity" in changes:
        changes["login_activity"] = _none_word(changes["login_activity"])
    with app.transaction() as session:
        integ = integrations.get(session, name)
        if clear_contacts or opts["contacts"]:
            kept = () if clear_contacts else tuple(integ.contacts or ())
            changes["contacts"] = tuple(dict.fromkeys(kept + tuple(opts["contacts"])))
        if not changes:
            raise ConfigError("nothing to change: give at least one option (see --help)")
        integrations.update(session, integ, changes)
    click.echo(f"updated integration {name!r}: {', '.join(sorted(changes))}")


def _none_word(value: str | None) -> str | None:
    """`--login-activity none` switches the source off."""
    return None if value in (None, "none") else value


def _read_json_option(option: str, text: str | None) -> Any:
    """A JSON value given inline or as @file."""
    if text is None:
        return None
    try:
        raw = Path(text[1:]).read_text(encoding="utf-8") if text.startswith("@") else text
        return json.loads(raw)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{option}: not readable JSON ({exc})") from None


@integration.command("map")
@click.argument("name")
@click.option("--smart", is_flag=True, help="Propose the mapping from field names and types.")
@click.option("--set", "assignments", multiple=True, metavar="TARGET=SOURCE",
              help="Map a field: job_title=jobTitle, role=const:Employee, "
                   "first_name='name|first_name', custom.Team='template:{jobTitle}'; "
                   "TARGET= unmaps.")  # fmt: skip
@click.option("--default", "defaults", multiple=True, metavar="TARGET=VALUE",
              help="What a mapped field gets when Lever gives nothing, e.g. "
                   "department=Unassigned; TARGET= drops the default.")  # fmt: skip
@click.option("--show", is_flag=True, help="Print the mapping.")
@click.option("--default-role", default=None, help="Role given to people by --smart.")
@pass_ctx
def integration_map(
    app: AppContext,
    name: str,
    smart: bool,
    assignments: tuple[str, ...],
    defaults: tuple[str, ...],
    show: bool,
    default_role: str | None,
) -> None:
    """Map Lever fields to People fields."""
    if not (smart or assignments or defaults or show):
        raise ConfigError(
            "say what to do: --smart, --set TARGET=SOURCE or --show (or --default TARGET=VALUE)"
        )
    with app.transaction() as session:
        integ = integrations.get(session, name)
        if smart:
            integrations.apply_smart_mapping(session, integ, default_role)
        if assignments:
            integrations.apply_assignments(session, integ, assignments)
        if defaults:
            integrations.apply_defaults(integ, defaults)
        _print_mapping(integ)


def _print_mapping(integ: Any) -> None:
    """The mapping as lines, then what a launch still needs."""
    for entry in load_entries(integ.mapping):
        click.echo(f"  {entry.target:<22} ← {entry.describe()}")
    key = ", ".join(integ.sync_keys)
    if integ.connector == integrations.HIRES:
        key = "the Lever opportunity (work email from the email format)"
    missing = integrations.missing_for_launch(integ)
    status = "ready to launch" if not missing else "still needed: " + "; ".join(missing)
    click.echo(f"sync key: {key}; state: {integ.state}; {status}")


@integration.command("launch")
@click.argument("name")
@pass_ctx
def integration_launch(app: AppContext, name: str) -> None:
    """Leave draft: the integration may sync from now on."""
    with app.transaction() as session:
        integrations.launch(integrations.get(session, name))
    click.echo(f"integration {name!r} is active: run `invsync sync {name}`")


@integration.command("list")
@click.option("--format", "fmt", type=TABLE_OR_JSON, default="table")
@pass_ctx
def integration_list(app: AppContext, fmt: str) -> None:
    """List integrations."""
    with app.transaction() as session:
        rows = [integrations.to_dict(i) for i in integrations.list_all(session)]
    if fmt == "json":
        write_json(rows, sys.stdout)
    else:
        write_table(
            rows, ["name", "connector", "state", "mode", "preference", "credential"], sys.stdout
        )


@integration.command("show")
@click.argument("name")
@click.option("--format", "fmt", type=TABLE_OR_JSON, default="table")
@pass_ctx
def integration_show(app: AppContext, name: str, fmt: str) -> None:
    """Print one integration."""
    with app.transaction() as session:
        integ = integrations.get(session, name)
        doc = integrations.to_dict(integ)
        if fmt == "table":
            for key in (
                "name",
                "connector",
                "state",
                "mode",
                "preference",
                "base_url",
                "credential",
            ):
                click.echo(f"{key:<11} {doc[key]}")
            click.echo(f"{'schedule':<11} {schedules.text(integ)}")
            _print_mapping(integ)
    if fmt == "json":
        write_json(doc, sys.stdout)


COMMANDS = [integration]
