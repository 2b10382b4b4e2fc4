"""The runner: select the records, walk each one through the graph from begin, log every step.

A run is a job: it owns its transactions. The run row is committed as `running` first; records
are walked a chunk at a time, each chunk's record changes and steps committed together, so a
failure late in a long run keeps what was done (and what Lever was told). Every step is logged:
record, block, outcome (``success``, ``failure``, ``retry``, ``pending``), message and Lever's
HTTP status, never a secret.

* **Records** are the workflow's object type: SaaS users, or people (`workflows.objects`); a
  step names its SaaS user or its person, and the record's email.
* **Criteria** select the records in SQL (the rule engine compiles them), or, for event triggers,
  are evaluated in Python on exactly the records the event names.
* **Retries**: a block whose result is retryable (Lever stayed unavailable after the client's own
  retries, a transient mail failure) is tried again under its policy, then leaves by failure.
* **Dry run**: no block changes Lever or the inventory, nothing is sent, no approval is made;
  blocks that only read Lever still read it, so the report says what would really happen.
* **Supervised**: a block that would change Lever records a pending approval instead and the
  record's path stops there; approving it runs the block and walks on (see `approvals`).
* **Run status**: ``succeeded`` (every path ended or waits), ``waiting_approval`` (approvals are
  pending), ``failed`` (the run could not go on: a refused key, no permission). A failure exit is
  a normal outcome, never a failed run.
* **Change log**: record changes go through the ORM unit of work, in a session whose actor is
  the workflow, so the change log names it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from connector.ledger import owner_gone, owner_id
from inventory import changelog
from inventory.db import transaction, update_if
from inventory.errors import InvsyncError, failure_line
from inventory.models import Approval, Workflow, WorkflowRun, WorkflowStep
from inventory.settings import Settings
from inventory.statuses import ApprovalStatus, WorkflowRunStatus
from inventory.timeutil import iso, utcnow
from workflows import store
from workflows.context import Record, RunContext
from workflows.definition import Definition, load
from workflows.errors import RunFailed, WorkflowStateError
from workflows.lever import Connection, LeverAccess, resolve
from workflows.objects import CHUNK, load_records, load_users, select_ids
from workflows.registry import FAILURE, PENDING, SUCCESS, Block, CheckEnv, Registry, Result
from workflows.registry import load_registry as _load_registry

__all__ = [
    "CHUNK",
    "RunOptions",
    "RunSummary",
    "Walker",
    "close_dead_runs",
    "close_unfinished",
    "in_status",
    "load_users",
    "queue_workflow",
    "queued_workflow_runs",
    "run_queued_workflow",
    "run_to_dict",
    "run_workflow",
    "select_ids",
]

RETRY = "retry"
MAX_MESSAGE = 2000
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunOptions:
    """How runs reach the world: the registry, client options (pacing, tries), clock, sleep."""

    registry: Registry | None = None
    client_options: Mapping[str, Any] = field(default_factory=dict)
    now: Callable[[], datetime] = utcnow
    sleep: Callable[[float], None] = time.sleep

    def blocks(self) -> Registry:
        """The registry to use: the given one, or the built-ins and installed extensions."""
        return self.registry if self.registry is not None else _load_registry()


@dataclass
class RunSummary:
    """What a run did: the contract of `invsync workflow run --format json`."""

    run_id: int
    workflow: str
    version: int
    trigger: str
    dry_run: bool
    status: str = WorkflowRunStatus.RUNNING
    matched: int = 0
    outcomes: dict[str, dict[str, int]] = field(default_factory=dict)
    pending_approvals: int = 0
    message: str | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None

    def to_dict(self) -> dict[str, Any]:
        """The stable JSON shape: snake_case keys, ISO-8601 UTC timestamps."""
        return {
            "run_id": self.run_id,
            "workflow": self.workflow,
            "version": self.version,
            "trigger": self.trigger,
            "dry_run": self.dry_run,
            "status": self.status,
            "matched": self.matched,
            "outcomes": self.outcomes,
            "pending_approvals": self.pending_approvals,
            "message": self.message,
            "started_at": iso(self.started_at),
            "finished_at": iso(self.finished_at),
        }


@dataclass(frozen=True)
class _Job:
    """A started run: what the walk needs from the first transaction."""

    run_id: int
    workflow_id: int
    definition: Definition
    connections: dict[str, Connection]
    summary: RunSummary


# -- the walk --------------------------------------------------------------------------------


class Walker:
    """Walks records through one definition, counting outcomes and buffering the step log."""

    def __init__(
        self,
        definition: Definition,
        ctx: RunContext,
        run_id: int,
        workflow_id: int,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.definition, self.ctx, self.run_id, self.workflow_id = (
            definition,
            ctx,
            run_id,
            workflow_id,
        )
        self.clock = clock
        self.supervised = definition.run_mode == "supervised"
        self.outcomes = {b: {SUCCESS: 0, FAILURE: 0} for b in definition.blocks}
        self.pending = 0
        self.steps: list[dict[str, Any]] = []

    def walk(
        self, record: Record, start: str | None = None, *, approved: bool = False
    ) -> list[tuple[str, Result]]:
        """Take one record from `start` (begin by default) to an end, or to a pending approval;
        with `approved`, the first block runs without asking again. The results, in order."""
        block_id: str | None = start or self.definition.begin
        taken: list[tuple[str, Result]] = []
        for _ in range(
            len(self.definition.blocks)
        ):  # a valid graph is acyclic: a path is this long at most
            if block_id is None:
                break
            block = self.definition.blocks[block_id]
            result = self._execute(block, record, approved=approved and not taken)
            taken.append((block_id, result))
            if result.outcome == PENDING:
                break
            self.outcomes[block_id][result.outcome] += 1
            block_id = self.definition.next(block_id, result.outcome)
        return taken

    def _execute(self, block: Block, record: Record, *, approved: bool) -> Result:
        """Ask for approval, or run the block under its retry policy; log the final result."""
        if self.supervised and block.changes_lever() and not approved:
            result = self._ask(block, record)
        else:
            result = self._attempts(block, record)
        self.log(record, block.id, result)
        return result

    def _attempts(self, block: Block, record: Record) -> Result:
        """Run a block, trying again while its result is retryable and tries remain."""
        policy = block.spec.retry
        for attempt in range(1, policy.tries):
            result = _run_block(block, self.ctx, record)
            if not result.retryable:
                return result
            delay = policy.delay(attempt)
            note = f"try {attempt} of {policy.tries} failed, again in {delay:g} s: {result.message}"
            self.log(record, block.id, Result(RETRY, note, result.status_code))
            self.ctx.sleep(delay)
        return _run_block(block, self.ctx, record)

    def _ask(self, block: Block, record: Record) -> Result:
        """Record a pending approval for a change to Lever (a dry run only says it would)."""
        self.pending += 1
        what = block.describe(self.ctx, record)
        if self.ctx.dry_run:
            return Result(PENDING, f"would wait for approval: {what}")
        approval = Approval(
            workflow_id=self.workflow_id, run_id=self.run_id, block_id=block.id,
            saas_user_id=record.saas_user_id, record_key=record.key, status=ApprovalStatus.PENDING,
            action={"block_type": block.type, "description": what}, created_at=self.clock(),
        )  # fmt: skip
        self.ctx.session.add(approval)
        self.ctx.session.flush()
        return Result(PENDING, f"waiting for approval {approval.id}: {what}")

    def log(self, record: Record, block_id: str, result: Result) -> None:
        """Buffer one step of the log."""
        self.steps.append({
            "run_id": self.run_id, "saas_user_id": record.saas_user_id,
            "person_id": record.person_id, "record_key": record.key, "block_id": block_id,
            "outcome": result.outcome,
            "message": result.message[:MAX_MESSAGE] or None, "status_code": result.status_code,
            "at": self.clock(),
        })  # fmt: skip

    def flush(self) -> None:
        """Write the buffered steps in one statement."""
        if self.steps:
            # render_nulls keeps every row in one batch (rows with and without a status code)
            stmt = insert(WorkflowStep).execution_options(render_nulls=True)
            self.ctx.session.execute(stmt, self.steps)
            self.steps = []


def _run_block(block: Block, ctx: RunContext, record: Record) -> Result:
    """One try of a block; an unexpected error in a block is that record's failure."""
    try:
        return block.run(ctx, record)
    except (InvsyncError, SQLAlchemyError):
        raise
    except Exception as exc:  # an extension's bug must not stop every other record
        log.error("block %r failed on %s: internal error %s", block.id, record.key,
                  type(exc).__name__)  # fmt: skip
        log.debug("block %r failed", block.id, exc_info=True)
        return Result.failure(f"internal error in the block ({type(exc).__name__})")


# -- a run -----------------------------------------------------------------------------------


def run_workflow(
    factory: sessionmaker[Session],
    settings: Settings,
    name: str,
    *,
    dry_run: bool = False,
    trigger: str = "manual",
    record_ids: Iterable[int] | None = None,
    options: RunOptions | None = None,
) -> RunSummary:
    """Run a workflow now, in this process, over the records its criteria select (or over
    `record_ids`, for an event); a real run needs an active workflow, a dry run works on a draft
    too. The shell runs workflows this way; the web app queues them for a worker."""
    run_id = queue_workflow(factory, settings, name, dry_run=dry_run, trigger=trigger,
                            record_ids=record_ids, options=options)  # fmt: skip
    summary = run_queued_workflow(factory, settings, run_id, options)
    assert summary is not None, "a run queued by this process is taken by it"
    return summary


def queue_workflow(
    factory: sessionmaker[Session],
    settings: Settings,
    name: str,
    *,
    dry_run: bool = False,
    trigger: str = "manual",
    record_ids: Iterable[int] | None = None,
    options: RunOptions | None = None,
) -> int:
    """Check the workflow may run now (state, definition, credentials) and record a run waiting
    for a worker; its id. Whatever would stop the run is raised here, before anything waits."""
    options = options or RunOptions()
    with transaction(factory) as session:
        workflow = store.get(session, name)
        _require_runnable(workflow, dry_run)
        definition = _definition(session, workflow, workflow.version, options)
        resolve(session, settings, definition.credentials)
        ids = None if record_ids is None else [int(i) for i in record_ids]
        run = WorkflowRun(
            workflow_id=workflow.id, version=workflow.version, trigger=trigger,
            status=WorkflowRunStatus.QUEUED, dry_run=dry_run, started_at=options.now(),
            outcomes={}, record_ids=ids,
        )  # fmt: skip
        session.add(run)
        session.flush()
        return run.id


def run_queued_workflow(
    factory: sessionmaker[Session],
    settings: Settings,
    run_id: int,
    options: RunOptions | None = None,
) -> RunSummary | None:
    """Start a queued run and walk it to the end; None when it no longer waits (another worker
    took it). A run that cannot start any more (its credential was removed) is closed as failed
    and the reason raised."""
    options = options or RunOptions()
    if not _claim(factory, run_id, options.now()):
        return None
    try:
        job, record_ids = _start(factory, settings, run_id, options)
        return _walk_all(factory, settings, job, record_ids, options)
    except BaseException as exc:
        _mark_failed(factory, run_id, exc, options.now)
        raise


def queued_workflow_runs(session: Session) -> list[tuple[int, str]]:
    """Every run waiting for a worker, oldest first, with its workflow's name."""
    return in_status(session, WorkflowRun, WorkflowRunStatus.QUEUED)


def in_status(
    session: Session, model: type[WorkflowRun] | type[Approval], status: str
) -> list[tuple[int, str]]:
    """The ids of a workflow's runs or approvals in a status, oldest first, each with its
    workflow's name: what waits for a worker."""
    stmt = (
        select(model.id, Workflow.name)
        .join(Workflow, Workflow.id == model.workflow_id)
        .where(model.status == status)
        .order_by(model.id)
    )
    return [(found, name) for found, name in session.execute(stmt)]


def _claim(factory: sessionmaker[Session], run_id: int, now: datetime) -> bool:
    """Take a queued run for this process (queued → running); False when it no longer waits."""
    with transaction(factory) as session:
        taken = {"status": WorkflowRunStatus.RUNNING, "started_at": now, "owner": owner_id()}
        return update_if(session, WorkflowRun, run_id, (WorkflowRunStatus.QUEUED,), **taken)


def _start(
    factory: sessionmaker[Session], settings: Settings, run_id: int, options: RunOptions
) -> tuple[_Job, list[int] | None]:
    """What the walk of a taken run needs: its version's definition and open credentials."""
    with transaction(factory) as session:
        run = session.get_one(WorkflowRun, run_id)
        workflow = session.get_one(Workflow, run.workflow_id)
        definition = _definition(session, workflow, run.version, options)
        connections = resolve(session, settings, definition.credentials)
        summary = RunSummary(run.id, workflow.name, run.version, run.trigger, run.dry_run,
                             started_at=run.started_at)  # fmt: skip
        job = _Job(run.id, workflow.id, definition, connections, summary)
        return job, None if run.record_ids is None else [int(i) for i in run.record_ids]


def _definition(
    session: Session, workflow: Workflow, version: int, options: RunOptions
) -> Definition:
    """A version of the workflow, checked against the blocks there are."""
    return load(store.version_doc(session, workflow, version), CheckEnv(options.blocks()))


def _require_runnable(workflow: Workflow, dry_run: bool) -> None:
    """Only an active workflow really runs; any workflow may be tried with a dry run."""
    if dry_run or workflow.state == "active":
        return
    raise WorkflowStateError(
        f"workflow {workflow.name!r} is {'a draft' if workflow.state == 'draft' else 'inactive'}:"
        f" try it with `invsync workflow run {workflow.name} --dry-run`, then"
        f" `invsync workflow activate {workflow.name}`"
    )


def _walk_all(
    factory: sessionmaker[Session],
    settings: Settings,
    job: _Job,
    record_ids: Iterable[int] | None,
    options: RunOptions,
) -> RunSummary:
    """Walk every selected record, a chunk per transaction, then close the run."""
    summary, lever = job.summary, LeverAccess(job.connections, options.client_options)
    with factory() as session:
        changelog.set_actor(session, "workflow", summary.workflow)
        definition = job.definition
        ids = select_ids(session, definition.criteria, options.now(), record_ids, definition.object)
        summary.matched = len(ids)
        ctx = RunContext(
            session, settings, summary.workflow, summary.dry_run, options.now(), lever,
            record_count=len(ids), sleep=options.sleep,
        )  # fmt: skip
        walker = Walker(job.definition, ctx, job.run_id, job.workflow_id, options.now)
        try:
            _walk_chunks(session, walker, ids)
        except RunFailed as exc:
            walker.flush()
            summary.status, summary.message = WorkflowRunStatus.FAILED, str(exc)
        finally:
            lever.close()
        _close(session, job, walker, options.now())
        session.commit()
    return summary


def _walk_chunks(session: Session, walker: Walker, ids: Sequence[int]) -> None:
    """Walk the records a chunk at a time, committing each chunk's changes and steps."""
    kind = walker.definition.object
    for start in range(0, len(ids), CHUNK):
        for record in load_records(session, kind, ids[start : start + CHUNK]):
            walker.walk(record)
        walker.flush()
        session.commit()
        session.expunge_all()


def _close(session: Session, job: _Job, walker: Walker, now: datetime) -> None:
    """Write the run's status, counts and end time."""
    summary = job.summary
    if summary.status == WorkflowRunStatus.RUNNING:
        waiting = walker.pending and not summary.dry_run
        summary.status = (
            WorkflowRunStatus.WAITING_APPROVAL if waiting else WorkflowRunStatus.SUCCEEDED
        )
    summary.outcomes = walker.outcomes
    summary.pending_approvals = walker.pending
    summary.finished_at = now
    run = session.get_one(WorkflowRun, job.run_id)
    run.status, run.matched, run.outcomes = summary.status, summary.matched, summary.outcomes
    run.message, run.finished_at = summary.message, now


def _mark_failed(
    factory: sessionmaker[Session], run_id: int, exc: BaseException, now: Callable[[], datetime]
) -> None:
    """Close a run that broke off unexpectedly, so it never stays `running`."""
    message = failure_line(exc)
    with transaction(factory) as session:
        run = session.get_one(WorkflowRun, run_id)
        if run.status == WorkflowRunStatus.RUNNING:
            run.status, run.finished_at, run.message = WorkflowRunStatus.FAILED, now(), message


def close_unfinished(
    factory: sessionmaker[Session], run_id: int, message: str, now: datetime
) -> bool:
    """Close a queued or running run no worker will finish (its worker died) as failed, saying
    why; False when it had ended already."""
    unfinished = (WorkflowRunStatus.QUEUED, WorkflowRunStatus.RUNNING)
    with transaction(factory) as session:
        closed = {"status": WorkflowRunStatus.FAILED, "finished_at": now, "message": message}
        return update_if(session, WorkflowRun, run_id, unfinished, **closed)


def close_dead_runs(factory: sessionmaker[Session]) -> list[tuple[int, str]]:
    """Close as failed the running runs whose process, on this host, is gone (a worker killed
    mid-run); each closed run's id and workflow name."""
    stmt = (
        select(WorkflowRun, Workflow.name)
        .join(Workflow, Workflow.id == WorkflowRun.workflow_id)
        .where(WorkflowRun.status == WorkflowRunStatus.RUNNING)
    )
    with factory() as session:
        dead = [(run.id, name, run.owner) for run, name in session.execute(stmt)
                if owner_gone(run.owner)]  # fmt: skip
    closed = []
    for run_id, name, owner in dead:
        why = f"failed: the process walking it ({owner}) is gone"
        if close_unfinished(factory, run_id, why, utcnow()):
            closed.append((run_id, name))
    return closed


# -- reading runs back -----------------------------------------------------------------------


def run_to_dict(session: Session, run: WorkflowRun, workflow_name: str) -> dict[str, Any]:
    """A stored run in the shape of `RunSummary.to_dict`."""
    return RunSummary(
        run.id, workflow_name, run.version, run.trigger, run.dry_run, run.status, run.matched,
        dict(run.outcomes or {}), _pending(session, run), run.message, run.started_at,
        run.finished_at,
    ).to_dict()  # fmt: skip


def _pending(session: Session, run: WorkflowRun) -> int:
    """Approvals of the run still pending (for a dry run: those it would have asked for)."""
    if run.dry_run:
        stmt = select(func.count()).where(
            WorkflowStep.run_id == run.id, WorkflowStep.outcome == PENDING
        )
    else:
        stmt = select(func.count()).where(
            Approval.run_id == run.id, Approval.status == ApprovalStatus.PENDING
        )
    return int(session.scalar(stmt) or 0)
