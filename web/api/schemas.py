"""The API's marshmallow schemas: they load request bodies and query strings, shape responses,
and are the OpenAPI document's component schemas. Secrets are `load_only`: never dumped."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from vault.store import KINDS
from workflows.approvals import APPROVAL_STATUSES
from workflows.objects import OBJECTS

MAX_PAGE = 500
ISO = {"description": "ISO-8601 UTC timestamp"}
DAY = {"description": "ISO-8601 date (YYYY-MM-DD)"}


def _when(required: bool = True) -> fields.Str:
    """A timestamp, null when it has not happened."""
    return fields.Str(required=required, allow_none=not required, metadata=ISO)


def _text() -> fields.Str:
    """Text that may be missing on a record."""
    return fields.Str(allow_none=True)


# --- errors ----------------------------------------------------------------------------------


class ErrorBody(Schema):
    """What went wrong: the status, a stable code, one line, and per-field problems if any."""

    status = fields.Int(required=True)
    code = fields.Str(required=True)
    message = fields.Str(required=True)
    details = fields.Raw(allow_none=True, required=True)


class Error(Schema):
    """The one error envelope of the API."""

    error = fields.Nested(ErrorBody, required=True)


# --- people and SaaS users -------------------------------------------------------------------


class ListQuery(Schema):
    """Search, rule filters, sort and keyset paging of a list."""

    q = fields.Str(metadata={"description": "words that must all appear in a name or email"})
    filter = fields.List(
        fields.Str(),
        metadata={"description": "repeatable field:op:value test, e.g. status:eq:active"},
    )
    rule = fields.Str(metadata={"description": 'a JSON rule tree, e.g. {"any": [...]}'})
    sort = fields.Str(
        load_default="email", metadata={"description": "a column, e.g. full_name or start_date"}
    )
    order = fields.Str(load_default="asc", validate=validate.OneOf(("asc", "desc")))
    limit = fields.Int(load_default=50, validate=validate.Range(1, MAX_PAGE))
    cursor = fields.Str(metadata={"description": "next_cursor of the previous page"})


class SaasUserListQuery(ListQuery):
    """A SaaS-user list, optionally of one app."""

    app = fields.Str(metadata={"description": "the SaaS app's name, e.g. Lever"})


class Person(Schema):
    """A People record."""

    id = fields.Int(required=True)
    username = _text()
    email = fields.Str(required=True)
    first_name = _text()
    last_name = _text()
    full_name = _text()
    role = _text()
    job_title = _text()
    status = fields.Str(required=True)
    custom = fields.Dict(keys=fields.Str(), values=fields.Raw(allow_none=True), required=True)
    created_at = _when()
    updated_at = _when()
    last_synced_at = _when(False)
    start_date = fields.Str(allow_none=True, metadata=DAY)
    department = _text()
    location = _text()
    personal_email = _text()
    manager_email = fields.Str(
        allow_none=True, metadata={"description": "the email of the person's manager"}
    )


class PersonPage(Schema):
    """One page of people and the cursor of the next page (null on the last)."""

    items = fields.List(fields.Nested(Person), required=True)
    next_cursor = fields.Str(required=True, allow_none=True)


class SaasUser(Schema):
    """One account in one SaaS app, with its person's email."""

    id = fields.Int(required=True)
    app = fields.Str(required=True)
    external_id = fields.Str(required=True)
    email = _text()
    name = _text()
    role = _text()
    status = fields.Str(required=True)
    created_at = _when(False)
    deactivated_at = _when(False)
    last_login_at = _when(False)
    last_seen_at = _when(False)
    person_email = _text()


class SaasUserPage(Schema):
    """One page of SaaS users and the cursor of the next page (null on the last)."""

    items = fields.List(fields.Nested(SaasUser), required=True)
    next_cursor = fields.Str(required=True, allow_none=True)


# --- credentials -----------------------------------------------------------------------------

_NAME = validate.Length(1, 100)


class CredentialCreate(Schema):
    """A new credential; for Lever the username is the API key and the password any placeholder."""

    name = fields.Str(required=True, validate=_NAME)
    username = fields.Str(required=True, load_only=True, validate=validate.Length(1, 1000))
    password = fields.Str(load_only=True, load_default="", validate=validate.Length(0, 1000))
    kind = fields.Str(load_default="basic", validate=validate.OneOf(KINDS))


class CredentialUpdate(Schema):
    """New values for a credential; what is not given stays as it is."""

    username = fields.Str(load_only=True, validate=validate.Length(1, 1000))
    password = fields.Str(load_only=True, validate=validate.Length(0, 1000))
    kind = fields.Str(validate=validate.OneOf(KINDS))


class Credential(Schema):
    """What may be shown about a credential: a masked hint, never the secret."""

    name = fields.Str(required=True)
    kind = fields.Str(required=True)
    username_hint = fields.Str(required=True)
    created_at = _when()
    updated_at = _when()


class CredentialList(Schema):
    """Every credential, by name."""

    items = fields.List(fields.Nested(Credential), required=True)


# --- integrations ----------------------------------------------------------------------------


class Schedule(Schema):
    """When an integration syncs; next_run_at is null when nothing will run."""

    kind = fields.Str(required=True)
    expression = fields.Str(required=True)
    tz = fields.Str(required=True)
    paused = fields.Bool(required=True)
    next_run_at = _when(False)


class ScheduleChange(Schema):
    """A new schedule (daily HH:MM, every N{s,m,h,d}, or a cron line), zone, or pause state."""

    kind = fields.Str(validate=validate.OneOf(("daily", "every", "cron")))
    expression = fields.Str(validate=validate.Length(1, 200))
    tz = fields.Str(validate=validate.Length(1, 100))
    paused = fields.Bool()


class _IntegrationSettings(Schema):
    """The settings an integration shares between create and update."""

    credential = fields.Str(validate=_NAME)
    base_url = fields.Str(validate=validate.Length(1, 2000))
    saas_users = fields.Bool()
    preference = fields.Str(
        validate=validate.OneOf(("create_update", "create_only", "update_only"))
    )
    max_rps = fields.Float(validate=validate.Range(0, 1000))
    default_role = fields.Str(validate=validate.Length(1, 200))
    filters = fields.Raw(allow_none=True, metadata={"description": "a rule tree, or null"})
    deactivate_missing = fields.Bool(allow_none=True)
    max_deactivate = fields.Int(allow_none=True, validate=validate.Range(0, 10_000_000))
    contacts = fields.List(fields.Str(validate=validate.Length(1, 320)))
    login_activity = fields.Str(allow_none=True, validate=validate.OneOf(("audit-events",)))


class IntegrationCreate(_IntegrationSettings):
    """A new draft integration."""

    name = fields.Str(required=True, validate=_NAME)
    credential = fields.Str(required=True, validate=_NAME)
    connector = fields.Str(load_default="lever", validate=validate.OneOf(("lever",)))
    sync_key = fields.Str(validate=validate.Length(1, 100))


class IntegrationUpdate(_IntegrationSettings):
    """Settings to change; what is not given stays as it is."""


class Integration(Schema):
    """A configured connector; the credential is named, never shown."""

    name = fields.Str(required=True)
    connector = fields.Str(required=True)
    state = fields.Str(required=True)
    mode = fields.Str(required=True)
    preference = fields.Str(required=True)
    base_url = fields.Str(required=True)
    credential = fields.Str(required=True)
    sync_keys = fields.List(fields.Str(), required=True)
    mapping = fields.List(fields.Dict(), required=True)
    filters = fields.Raw(required=True, allow_none=True)
    options = fields.Dict(required=True)
    deactivate_missing = fields.Bool(required=True)
    max_deactivate = fields.Int(required=True, allow_none=True)
    contacts = fields.List(fields.Str(), required=True)
    login_activity = fields.Str(required=True, allow_none=True)
    schedule = fields.Nested(Schedule, required=True)
    missing_for_launch = fields.List(fields.Str(), required=True)
    created_at = _when()
    updated_at = _when()


class IntegrationList(Schema):
    """Every integration, by name."""

    items = fields.List(fields.Nested(Integration), required=True)


class SmartMapping(Schema):
    """Options of a smart mapping."""

    default_role = fields.Str(validate=validate.Length(1, 200))


class RunStart(Schema):
    """How to start a run: for real in the background, or a dry run answered at once."""

    dry_run = fields.Bool(load_default=False)


# --- sync runs -------------------------------------------------------------------------------

_COUNTS = {"description": "created, updated, unchanged and skipped records"}


class Run(Schema):
    """A sync run: its status, timing and counts."""

    run_id = fields.Int(required=True)
    integration = fields.Str(required=True)
    trigger = fields.Str(required=True)
    status = fields.Str(required=True)
    started_at = _when()
    finished_at = _when(False)
    fetched = fields.Int(required=True)
    errors = fields.Int(required=True)
    skipped = fields.Int(required=True)
    people = fields.Dict(keys=fields.Str(), values=fields.Int(), required=True, metadata=_COUNTS)
    saas_users = fields.Dict(
        keys=fields.Str(), values=fields.Int(), required=True, metadata=_COUNTS
    )
    message = _text()


class RunError(Schema):
    """A record a run could not sync, and why."""

    record = fields.Str(required=True)
    message = fields.Str(required=True)


class RunDetail(Run):
    """A run with every per-record error (their number is error_count)."""

    error_count = fields.Int(required=True)
    errors = fields.List(fields.Nested(RunError), required=True)  # type: ignore[assignment]


class RunList(Schema):
    """Runs, newest first."""

    items = fields.List(fields.Nested(Run), required=True)


class DryRunReport(Schema):
    """What a real sync would change, computed without changing anything."""

    integration = fields.Str(required=True)
    dry_run = fields.Bool(required=True)
    fetched = fields.Int(required=True)
    skipped = fields.Int(required=True)
    errors = fields.Raw(required=True)
    people = fields.Raw(required=True)
    saas_users = fields.Raw(required=True)
    deactivate = fields.Raw(required=True)
    reconcile = fields.Raw(required=True, allow_none=True)


class DryRun(Schema):
    """A dry run asked for over the API: its status and, once computed, its report."""

    dry_run_id = fields.Int(required=True)
    integration = fields.Str(required=True)
    status = fields.Str(required=True, metadata={"enum": ["queued", "running", "succeeded",
                                                         "failed"]})  # fmt: skip
    message = _text()
    started_at = _when()
    finished_at = _when(False)
    report = fields.Nested(DryRunReport, required=True, allow_none=True)


# --- workflows and approvals -----------------------------------------------------------------


class WorkflowDefinition(Schema):
    """A workflow definition; its blocks, edges and criteria are checked by the workflow rules."""

    name = fields.Str(required=True, validate=validate.Length(1, 100))
    description = fields.Str(allow_none=True)
    object = fields.Str(
        validate=validate.OneOf(OBJECTS),
        metadata={"description": "what the workflow runs over (default saas_users); people "
                                 "workflows start on person_hired or person_started"},
    )  # fmt: skip
    trigger = fields.Raw()
    criteria = fields.Raw(allow_none=True)
    run_mode = fields.Raw()
    blocks = fields.List(fields.Raw())
    edges = fields.List(fields.Raw())


class WorkflowReplace(WorkflowDefinition):
    """A definition replacing a stored one; the name defaults to the one in the URL."""

    name = fields.Str(validate=validate.Length(1, 100))


class Workflow(Schema):
    """A workflow: state, version and trigger."""

    name = fields.Str(required=True)
    description = _text()
    object = fields.Str(required=True, metadata={"enum": list(OBJECTS)})
    state = fields.Str(required=True)
    version = fields.Int(required=True)
    trigger = fields.Raw(required=True, allow_none=True)
    run_mode = fields.Str(required=True)
    blocks = fields.Int(required=True, metadata={"description": "how many blocks it has"})
    created_at = _when()
    updated_at = _when()


class WorkflowDetail(Workflow):
    """A workflow with its current definition."""

    definition = fields.Dict(required=True)


class WorkflowSaved(WorkflowDetail):
    """A saved definition: edited, a new version, or unchanged."""

    result = fields.Str(required=True)


class WorkflowList(Schema):
    """Every workflow, by name."""

    items = fields.List(fields.Nested(Workflow), required=True)


class WorkflowCheck(Schema):
    """Whether a definition is valid, with one line per problem."""

    valid = fields.Bool(required=True)
    problems = fields.List(fields.Str(), required=True)


class WorkflowRun(Schema):
    """A workflow run: how many records matched and how each block's records left it."""

    run_id = fields.Int(required=True)
    workflow = fields.Str(required=True)
    version = fields.Int(required=True)
    trigger = fields.Str(required=True)
    dry_run = fields.Bool(required=True)
    status = fields.Str(required=True)
    matched = fields.Int(required=True)
    outcomes = fields.Dict(
        keys=fields.Str(), values=fields.Dict(keys=fields.Str(), values=fields.Int()), required=True
    )
    pending_approvals = fields.Int(required=True)
    message = _text()
    started_at = _when(False)
    finished_at = _when(False)


class WorkflowRunList(Schema):
    """A workflow's runs, newest first."""

    items = fields.List(fields.Nested(WorkflowRun), required=True)


class LimitQuery(Schema):
    """How many to list at most."""

    limit = fields.Int(load_default=20, validate=validate.Range(1, MAX_PAGE))


class ApprovalQuery(Schema):
    """Which approvals to list."""

    status = fields.Str(
        load_default="pending", validate=validate.OneOf((*APPROVAL_STATUSES, "all"))
    )


class Approval(Schema):
    """A change to Lever a supervised workflow holds until a person decides."""

    id = fields.Int(required=True)
    workflow = fields.Str(required=True)
    run_id = fields.Int(required=True)
    block_id = fields.Str(required=True)
    record = _text()
    action = _text()
    status = fields.Str(required=True)
    result = fields.Raw(allow_none=True)
    created_at = _when()
    decided_at = _when(False)
    decided_by = _text()


class ApprovalList(Schema):
    """Approvals, oldest first."""

    items = fields.List(fields.Nested(Approval), required=True)


class Decision(Schema):
    """What deciding an approval did."""

    id = fields.Int(required=True)
    status = fields.Str(required=True)
    outcome = fields.Str(required=True)
    message = _text()


# --- changes ---------------------------------------------------------------------------------


class ChangeQuery(Schema):
    """Which changes to list: of one object type, of one run, at most `limit`."""

    object = fields.Str(validate=validate.OneOf(("person", "saas_user")))
    run = fields.Int(validate=validate.Range(1, 2**31 - 1))
    limit = fields.Int(load_default=100, validate=validate.Range(1, MAX_PAGE))


class Actor(Schema):
    """Who made a change."""

    kind = fields.Str(required=True)
    name = fields.Str(required=True)


class ChangedObject(Schema):
    """The person or SaaS user a change touched."""

    type = fields.Str(required=True)
    id = fields.Int(required=True)
    key = _text()


class Change(Schema):
    """One change-log row with the fields before and after."""

    id = fields.Int(required=True)
    at = _when()
    actor = fields.Nested(Actor, required=True)
    run_id = fields.Int(required=True, allow_none=True)
    action = fields.Str(required=True)
    object = fields.Nested(ChangedObject, required=True)
    before = fields.Dict(required=True, allow_none=True)
    after = fields.Dict(required=True, allow_none=True)


class ChangeList(Schema):
    """Changes, newest first."""

    items = fields.List(fields.Nested(Change), required=True)


class Me(Schema):
    """The caller's account."""

    name = fields.Str(required=True)
    role = fields.Str(required=True)
