"""Long work as tasks on a real engine, so nothing long runs inside a web request.

Two engines run the same task functions:
- **Procrastinate** (PostgreSQL): jobs live in the database beside the data, and `invsync worker`
  processes, on as many machines as needed, execute them.
- **local** (SQLite, or `INVSYNC_TASK_ENGINE=local`): a small thread pool inside the process that
  asks for the work (`invsync serve`). There is no broker and no extra step.

The run ledger says what waits and what runs; a job only carries "start this integration's
waiting run". Both say the same per integration:
- at most one run waits: the ledger's unique index on queued runs, and Procrastinate's queueing
  lock `sync:NAME`;
- at most one runs: the ledger's unique index on running runs, and Procrastinate's lock
  `sync:NAME`.

Hiring events (a `lever-hires` integration's webhooks, and reruns) are tasks of the `syncs`
queue under the lock `hires:NAME`: one integration's events go one after another, so two events
of one hire never race to create its person.

Workflow runs are tasks of the `workflows` queue: the ledger's `queued` workflow run carries
what to walk (version, dry run, an event's records) and the job only "walk run N"; the lock
`workflow:NAME` has a workflow's runs go one after another, and a queueing lock per run keeps
one job waiting for it.

A worker killed mid-run (`kill -9`) is found by the recovery task. It runs when a worker
starts, and every minute on one worker; the database deduplicates the periodic defers. It closes
the run as failed once its process is gone (same host) or silent for two minutes, and marks the
job failed once the worker's heartbeat stops. With `INVSYNC_RETRY_STALLED` the integration is
queued again at once; otherwise its next schedule runs it. A workflow run whose job stalled is
closed as failed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from connector.dryrun_queue import close_dead_dry_runs, queued_dry_runs, run_queued_dry_run
from connector.errors import AlreadyRunningError
from connector.hires.apply import CREATED
from connector.hires.events import close_dead_events, queued_events
from connector.hires.process import run_event
from connector.jobs import close_stale_runs, enqueue_sync, lever_client, waiting_integrations
from connector.ledger import owner_id
from inventory.db import transaction
from inventory.errors import InvsyncError
from inventory.settings import Settings
from inventory.timeutil import utcnow
from web.jobs import HandOver, hand_person_events, waiting_sync_with_events
from workflows.approvals import approvals_to_send, send_approved
from workflows.runner import (
    close_dead_runs,
    close_unfinished,
    queue_workflow,
    queued_workflow_runs,
    run_queued_workflow,
)

if TYPE_CHECKING:  # Procrastinate is imported where it is used: commands that never queue
    import procrastinate  # (most of them) start faster without it
    from procrastinate import Blueprint, JobContext
    from procrastinate.jobs import Job

__all__ = [
    "QUEUES",
    "LocalEngine",
    "ProcrastinateEngine",
    "Runtime",
    "TaskEngine",
    "build_engine",
    "engine_name",
    "recover",
    "tasks",
]

log = logging.getLogger("invsync.tasks")
SYNC_QUEUE = "syncs"
WORKFLOW_QUEUE = "workflows"
QUEUES = (SYNC_QUEUE, WORKFLOW_QUEUE)
RETRY_WAIT = 15  # seconds before a queued run whose integration is running is tried again
RETRY_TRIES = 240  # an hour of waiting behind a run started from the shell
STALLED_AFTER = 30.0  # seconds without a worker heartbeat before its jobs count as stalled


@dataclass(frozen=True)
class Runtime:
    """What a task needs from its process: the session factory and the instance settings."""

    sessions: sessionmaker[Session]
    settings: Settings


class TaskEngine(Protocol):
    """Where work is handed: `defer_sync` returns at once, the sync happens elsewhere."""

    name: str

    def defer_sync(self, integration: str) -> None:
        """Have the integration's waiting run started by a worker."""

    def defer_workflow(self, run_id: int, workflow: str) -> None:
        """Have a queued workflow run walked by a worker."""

    def defer_approval(self, approval_id: int, workflow: str) -> None:
        """Have an accepted approval sent to Lever by a worker."""

    def defer_dry_run(self, dry_run_id: int) -> None:
        """Have a queued dry run computed by a worker."""

    def defer_hire_event(self, event_id: int, integration: str) -> None:
        """Have a stored hiring event processed by a worker."""

    def depth(self) -> dict[str, int]:
        """Jobs waiting, by queue."""

    def check(self) -> None:
        """Raise when the queue cannot be reached."""

    def close(self) -> None:
        """Release the engine's connections and threads."""


def engine_name(settings: Settings) -> str:
    """The engine an instance uses: Procrastinate on PostgreSQL, local on SQLite, unless set."""
    if settings.task_engine != "auto":
        return settings.task_engine
    return "procrastinate" if settings.db_url.startswith("postgresql") else "local"


def build_engine(runtime: Runtime) -> TaskEngine:
    """The task engine the settings choose."""
    if engine_name(runtime.settings) == "procrastinate":
        return ProcrastinateEngine(runtime.settings)
    return LocalEngine(runtime)


def queue_sync(runtime: Runtime, engine: TaskEngine, name: str, trigger: str) -> int:
    """Record a sync as waiting and hand it to the engine; the waiting run's id (the one that
    already waits, if one does). AlreadyRunningError while a run is going."""
    queued = enqueue_sync(runtime.sessions, runtime.settings, name, trigger=trigger)
    engine.defer_sync(name)  # also when it waited already: a lost hand-over is mended
    return queued.run_id


def queue_workflow_run(
    runtime: Runtime, engine: TaskEngine, name: str, *, dry_run: bool, trigger: str
) -> int:
    """Record a workflow run as waiting (raising whatever would stop it) and hand it to the
    engine; the run's id."""
    run_id = queue_workflow(runtime.sessions, runtime.settings, name, dry_run=dry_run,
                            trigger=trigger)  # fmt: skip
    engine.defer_workflow(run_id, name)
    return run_id


# -- the tasks ---------------------------------------------------------------------------------


def sync_task(context: JobContext, integration: str) -> None:
    """Start the integration's waiting run; wait and retry while a run started elsewhere goes.
    The workflows its events trigger are queued as tasks of their own."""
    assert context.app is not None
    app = context.app
    run_waiting(
        _runtime(context),
        integration,
        lambda run_id, name: _defer(app, _workflow_hand(run_id, name)),
    )


def workflow_task(context: JobContext, run_id: int, workflow: str) -> None:
    """Walk a queued workflow run (one run of a workflow at a time, by its lock)."""
    run_workflow_waiting(_runtime(context), run_id, workflow)


def dry_run_task(context: JobContext, dry_run_id: int) -> None:
    """Compute a queued dry run: read Lever, keep the report, write nothing else."""
    compute_dry_run(_runtime(context), dry_run_id)


def approval_task(context: JobContext, approval_id: int, workflow: str) -> None:
    """Send an accepted approval to Lever and walk its record on (under the workflow's lock)."""
    send_approval(_runtime(context), approval_id, workflow)


def hire_event_task(context: JobContext, event_id: int, integration: str) -> None:
    """Process a stored hiring event: read the hire from Lever, write its person."""
    assert context.app is not None
    app = context.app
    process_hire_event(
        _runtime(context), event_id, integration,
        lambda run_id, name: _defer(app, _workflow_hand(run_id, name)),
    )  # fmt: skip


async def recover_task(context: JobContext, timestamp: int) -> None:
    """Every minute, on one worker: close runs of dead workers, fail stalled jobs."""
    del timestamp
    assert context.app is not None
    await recover(context.app, _runtime(context))


def tasks() -> Blueprint:
    """invsync's tasks, registered on a new blueprint (adding one to an app renames its tasks,
    so each app gets its own)."""
    from procrastinate import Blueprint, RetryStrategy

    blueprint = Blueprint()
    retry = RetryStrategy(
        max_attempts=RETRY_TRIES, wait=RETRY_WAIT, retry_exceptions={AlreadyRunningError}
    )
    blueprint.task(name="sync", queue=SYNC_QUEUE, pass_context=True, retry=retry)(sync_task)
    blueprint.task(name="workflow", queue=WORKFLOW_QUEUE, pass_context=True)(workflow_task)
    blueprint.task(name="approval", queue=WORKFLOW_QUEUE, pass_context=True)(approval_task)
    blueprint.task(name="dry_run", queue=SYNC_QUEUE, pass_context=True)(dry_run_task)
    blueprint.task(name="hire_event", queue=SYNC_QUEUE, pass_context=True)(hire_event_task)
    recovering = blueprint.task(
        name="recover", queue=SYNC_QUEUE, queueing_lock="recover", pass_context=True
    )(recover_task)
    blueprint.periodic(cron="* * * * *", periodic_id="recover")(recovering)
    return blueprint


def _runtime(context: JobContext) -> Runtime:
    """The runtime the worker put in every task's context."""
    runtime = context.additional_context["runtime"]
    assert isinstance(runtime, Runtime)
    return runtime


def run_waiting(runtime: Runtime, integration: str, hand_over: HandOver) -> None:
    """Run the integration's queued sync and queue its workflows; a failure is the run's,
    logged."""
    try:
        summary = waiting_sync_with_events(
            runtime.sessions, runtime.settings, integration, hand_over=hand_over
        )
    except AlreadyRunningError:
        raise
    except InvsyncError as exc:
        log.warning("sync of %s ended with an error: %s", integration, _line(exc))
        return
    if summary is None:
        log.info("no run of %s waits: it was cancelled or taken by another worker", integration)


def run_workflow_waiting(runtime: Runtime, run_id: int, workflow: str) -> None:
    """Walk a queued workflow run; its failure is recorded on the run and logged."""
    try:
        summary = run_queued_workflow(runtime.sessions, runtime.settings, run_id)
    except InvsyncError as exc:
        log.warning("workflow %r run %s ended with an error: %s", workflow, run_id, _line(exc))
        return
    if summary is None:
        log.info("workflow %r run %s no longer waits: another worker took it", workflow, run_id)
        return
    log.info("workflow %r run %s %s: matched %s", workflow, run_id, summary.status,
             summary.matched)  # fmt: skip


def compute_dry_run(runtime: Runtime, dry_run_id: int) -> None:
    """Compute a queued dry run; what stopped it is kept on it and logged."""
    status = run_queued_dry_run(runtime.sessions, runtime.settings, dry_run_id)
    log.info("dry run %s: %s", dry_run_id, status or "taken by another worker")


def send_approval(runtime: Runtime, approval_id: int, workflow: str) -> None:
    """Send an accepted approval; what Lever answered is the approval's result, logged."""
    try:
        with transaction(runtime.sessions) as session:
            decision = send_approved(session, runtime.settings, approval_id)
    except InvsyncError as exc:
        log.warning("approval %s of %r not sent: %s", approval_id, workflow, _line(exc))
        return
    if decision is None:
        log.info("approval %s of %r was sent already", approval_id, workflow)
        return
    log.info("approval %s of %r sent: %s", approval_id, workflow, decision.outcome)


def process_hire_event(
    runtime: Runtime, event_id: int, integration: str, hand_over: HandOver
) -> None:
    """Process one stored hiring event, then queue the person_hired workflows of the person it
    created; what happened is on the event, and logged."""
    result = run_event(runtime.sessions, runtime.settings, event_id, lever_client, owner_id())
    outcome = result.outcome
    log.info("hiring event %s of %s: %s (%s)", event_id, integration, result.status,
             outcome.outcome if outcome is not None else "-")  # fmt: skip
    if outcome is not None and outcome.outcome == CREATED and outcome.person_id is not None:
        hand_person_events(runtime.sessions, runtime.settings, "person_hired",
                           [outcome.person_id], hand_over)  # fmt: skip


async def recover(app: procrastinate.App, runtime: Runtime) -> None:
    """Close the runs of workers that died, fail their stalled jobs, and hand over every waiting
    run again (a hand-over lost with a database error is mended here)."""
    closed = await asyncio.to_thread(close_stale_runs, runtime.sessions)
    for name in closed:  # the job that ran a dead run holds the lock: free it at once
        for job in await app.job_manager.list_jobs_async(status="doing", lock=f"sync:{name}"):
            await _fail(app, job, f"its run of {name!r} was closed: the worker running it is gone")
    for run_id, workflow in await asyncio.to_thread(close_dead_runs, runtime.sessions):
        for job in await app.job_manager.list_jobs_async(
            status="doing", lock=f"workflow:{workflow}"
        ):
            await _fail(app, job, f"its workflow run {run_id} was closed: its worker is gone")
    for job in await app.job_manager.get_stalled_jobs(seconds_since_heartbeat=STALLED_AFTER):
        await _fail(app, job, "its worker stopped sending heartbeats")
        if job.task_name == "invsync:workflow":
            await asyncio.to_thread(_close_workflow_run, runtime, job.task_kwargs)
    if runtime.settings.retry_stalled:
        for name in closed:
            await asyncio.to_thread(_requeue, runtime, name)
    for name in await asyncio.to_thread(waiting_integrations, runtime.sessions):
        await _defer_async(app, _sync_hand(name))
    for run_id, workflow in await asyncio.to_thread(_queued_workflows, runtime.sessions):
        await _defer_async(app, _workflow_hand(run_id, workflow))
    for approval_id, workflow in await asyncio.to_thread(_approvals_to_send, runtime.sessions):
        await _defer_async(app, _approval_hand(approval_id, workflow))
    await asyncio.to_thread(close_dead_dry_runs, runtime.sessions)
    for dry_run_id in await asyncio.to_thread(_queued_dry_runs, runtime.sessions):
        await _defer_async(app, _dry_run_hand(dry_run_id))
    await asyncio.to_thread(_close_dead_events, runtime.sessions)
    for event_id, name in await asyncio.to_thread(_queued_events, runtime.sessions):
        await _defer_async(app, _hire_event_hand(event_id, name))


def _close_workflow_run(runtime: Runtime, job_args: dict[str, Any]) -> None:
    """Close the workflow run of a job whose worker died: no one will finish it."""
    run_id = job_args.get("run_id")
    why = "failed: the worker running it stopped (it was killed or lost its database)"
    if isinstance(run_id, int) and close_unfinished(runtime.sessions, run_id, why, utcnow()):
        log.warning("workflow run %s closed as failed: its worker is gone", run_id)


def _queued_workflows(factory: sessionmaker[Session]) -> list[tuple[int, str]]:
    """The workflow runs waiting for a worker."""
    with factory() as session:
        return queued_workflow_runs(session)


def _queued_dry_runs(factory: sessionmaker[Session]) -> list[int]:
    """The dry runs waiting for a worker."""
    with factory() as session:
        return queued_dry_runs(session)


def _queued_events(factory: sessionmaker[Session]) -> list[tuple[int, str]]:
    """The hiring events waiting for a worker, with their integration."""
    with factory() as session:
        return queued_events(session)


def _close_dead_events(factory: sessionmaker[Session]) -> None:
    """Fail the hiring events whose worker is gone, so an admin can rerun them."""
    with transaction(factory) as session:
        for event_id in close_dead_events(session, utcnow()):
            log.warning("hiring event %s failed: the worker processing it is gone", event_id)


def _approvals_to_send(factory: sessionmaker[Session]) -> list[tuple[int, str]]:
    """The approvals accepted and waiting for a worker to send them."""
    with factory() as session:
        return approvals_to_send(session)


async def _fail(app: procrastinate.App, job: Job, why: str) -> None:
    """Mark a job that no worker runs any more as failed, saying why."""
    from procrastinate.jobs import Status

    log.warning("job %s (%s) marked failed: %s", job.id, job.task_name, why)
    await app.job_manager.finish_job(job, status=Status.FAILED, delete_job=False)


def _requeue(runtime: Runtime, name: str) -> None:
    """Queue a new run of an integration whose run died with its worker."""
    try:
        enqueue_sync(runtime.sessions, runtime.settings, name, trigger="retry")
    except InvsyncError as exc:
        log.warning("run of %s not queued again: %s", name, _line(exc))


@dataclass(frozen=True)
class Hand:
    """One hand-over to Procrastinate: the task, its arguments, and its locks."""

    task: str
    args: dict[str, Any]
    queueing_lock: str  # one job waits per thing to do, however often it is handed over
    lock: str | None = None  # jobs under one lock run one after another, on any worker


def _sync_hand(integration: str) -> Hand:
    """Start an integration's waiting run: one waits and one runs per integration."""
    lock = f"sync:{integration}"
    return Hand("sync", {"integration": integration}, lock, lock)


def _workflow_hand(run_id: int, workflow: str) -> Hand:
    """Walk a queued workflow run: a workflow's runs go one after another."""
    return Hand("workflow", {"run_id": run_id, "workflow": workflow}, f"workflow-run:{run_id}",
                f"workflow:{workflow}")  # fmt: skip


def _approval_hand(approval_id: int, workflow: str) -> Hand:
    """Send an accepted approval: it walks its record on, so under the workflow's lock."""
    return Hand("approval", {"approval_id": approval_id, "workflow": workflow},
                f"approval:{approval_id}", f"workflow:{workflow}")  # fmt: skip


def _dry_run_hand(dry_run_id: int) -> Hand:
    """Compute a queued dry run: it only reads, so it takes no lock."""
    return Hand("dry_run", {"dry_run_id": dry_run_id}, f"dry-run:{dry_run_id}")


def _hire_event_hand(event_id: int, integration: str) -> Hand:
    """Process a hiring event: an integration's events go one after another."""
    return Hand("hire_event", {"event_id": event_id, "integration": integration},
                f"hire-event:{event_id}", f"hires:{integration}")  # fmt: skip


def _defer(app: procrastinate.App, hand: Hand) -> None:
    """Defer a job (from sync code), unless one with its queueing lock waits already."""
    from procrastinate.exceptions import AlreadyEnqueued

    with contextlib.suppress(AlreadyEnqueued):
        _job(app, hand).defer(**hand.args)


async def _defer_async(app: procrastinate.App, hand: Hand) -> None:
    """Defer a job, unless one with its queueing lock waits already."""
    from procrastinate.exceptions import AlreadyEnqueued

    with contextlib.suppress(AlreadyEnqueued):
        await _job(app, hand).defer_async(**hand.args)


def _job(app: procrastinate.App, hand: Hand) -> Any:
    """The hand-over's task configured with its locks."""
    return app.tasks[f"invsync:{hand.task}"].configure(
        lock=hand.lock, queueing_lock=hand.queueing_lock
    )


def _line(exc: BaseException) -> str:
    """A safe one-line description of what stopped a task."""
    return " ".join(str(exc).split()) if isinstance(exc, InvsyncError) else type(exc).__name__


# -- Procrastinate -------------------------------------------------------------------------------


def procrastinate_app(settings: Settings) -> procrastinate.App:
    """A Procrastinate app on the instance's PostgreSQL database, with invsync's tasks."""
    import procrastinate

    url = make_url(settings.db_url).set(drivername="postgresql")
    conninfo = url.render_as_string(hide_password=False)
    app = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=conninfo))
    app.add_tasks_from(tasks(), namespace="invsync")
    return app


class ProcrastinateEngine:
    """Jobs in PostgreSQL, executed by `invsync worker` processes."""

    name = "procrastinate"

    def __init__(self, settings: Settings, app: procrastinate.App | None = None) -> None:
        self.app = app if app is not None else procrastinate_app(settings)
        self._lock = threading.Lock()
        self._opened = False

    def _open(self) -> procrastinate.App:
        """Open the app's connections on first use (after a serving process forks)."""
        with self._lock:
            if not self._opened:
                self.app.open()
                self._opened = True
        return self.app

    def defer_sync(self, integration: str) -> None:
        """Defer the integration's sync job, unless one waits already (it starts the run)."""
        _defer(self._open(), _sync_hand(integration))

    def defer_workflow(self, run_id: int, workflow: str) -> None:
        """Defer the walk of a queued workflow run."""
        _defer(self._open(), _workflow_hand(run_id, workflow))

    def defer_approval(self, approval_id: int, workflow: str) -> None:
        """Defer the sending of an accepted approval."""
        _defer(self._open(), _approval_hand(approval_id, workflow))

    def defer_dry_run(self, dry_run_id: int) -> None:
        """Defer the computing of a queued dry run."""
        _defer(self._open(), _dry_run_hand(dry_run_id))

    def defer_hire_event(self, event_id: int, integration: str) -> None:
        """Defer the processing of a stored hiring event."""
        _defer(self._open(), _hire_event_hand(event_id, integration))

    def depth(self) -> dict[str, int]:
        """Jobs waiting (todo), by queue."""
        queues = self._open().job_manager.list_queues()
        return {str(q["name"]): int(q.get("todo", 0)) for q in queues}

    def check(self) -> None:
        """Raise when Procrastinate's tables cannot be reached."""
        if not self._open().check_connection():
            raise InvsyncError("the task queue's tables are missing: run `invsync init`")

    def close(self) -> None:
        """Close the app's connection pool."""
        with self._lock:
            if self._opened:
                self.app.close()
                self._opened = False


# -- local -------------------------------------------------------------------------------------


class LocalEngine:
    """The same tasks on a small thread pool in this process: for SQLite and single installs.

    Waiting runs (syncs and workflow runs) left by a process that stopped are picked up when the
    engine starts. Runs of one workflow go one after another, as Procrastinate's lock has them:
    a run whose workflow is busy is tried again a second later, without holding a thread.
    """

    name = "local"

    def __init__(self, runtime: Runtime, workers: int = 2) -> None:
        self.runtime = runtime
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="invsync-task")
        self._waiting = dict.fromkeys(QUEUES, 0)
        self._lock = threading.Lock()
        self._busy: set[str] = set()  # workflows with a run being walked
        self._timers: list[threading.Timer] = []
        for name in waiting_integrations(runtime.sessions):
            self.defer_sync(name)
        close_dead_runs(runtime.sessions)  # walked by a process that stopped: never finished
        for run_id, workflow in _queued_workflows(runtime.sessions):
            self.defer_workflow(run_id, workflow)
        for approval_id, workflow in _approvals_to_send(runtime.sessions):
            self.defer_approval(approval_id, workflow)
        close_dead_dry_runs(runtime.sessions)
        for dry_run_id in _queued_dry_runs(runtime.sessions):
            self.defer_dry_run(dry_run_id)
        _close_dead_events(runtime.sessions)
        for event_id, name in _queued_events(runtime.sessions):
            self.defer_hire_event(event_id, name)

    def defer_sync(self, integration: str) -> None:
        """Run the integration's waiting run on the pool."""
        self._submit(SYNC_QUEUE, self._sync, integration)

    def defer_workflow(self, run_id: int, workflow: str) -> None:
        """Walk a queued workflow run on the pool."""
        self._submit(WORKFLOW_QUEUE, self._workflow, run_id, workflow)

    def defer_approval(self, approval_id: int, workflow: str) -> None:
        """Send an accepted approval on the pool."""
        self._submit(WORKFLOW_QUEUE, self._approval, approval_id, workflow)

    def defer_dry_run(self, dry_run_id: int) -> None:
        """Compute a queued dry run on the pool."""
        self._submit(SYNC_QUEUE, compute_dry_run, self.runtime, dry_run_id)

    def defer_hire_event(self, event_id: int, integration: str) -> None:
        """Process a stored hiring event on the pool."""
        self._submit(SYNC_QUEUE, self._hire_event, event_id, integration)

    def _submit(self, queue: str, task: Callable[..., None], *args: Any) -> None:
        """Hand a task to the pool, counting it as waiting in its queue until it starts."""
        with self._lock:
            self._waiting[queue] += 1
        self._pool.submit(self._started, queue, task, *args)

    def _started(self, queue: str, task: Callable[..., None], *args: Any) -> None:
        """Run a task from the pool; a task's failure never takes the serving process down."""
        with self._lock:
            self._waiting[queue] -= 1
        try:
            task(*args)
        except Exception:
            log.exception("%s task %s failed", queue, args)

    def _sync(self, integration: str) -> None:
        """One sync task; behind a run started elsewhere it is tried again a little later."""
        try:
            run_waiting(self.runtime, integration, self.defer_workflow)
        except AlreadyRunningError:
            self._later(RETRY_WAIT, self.defer_sync, integration)

    def _workflow(self, run_id: int, workflow: str) -> None:
        """One workflow task, once nothing else of the workflow is going here."""
        self._one_at_a_time(workflow, run_workflow_waiting, self.defer_workflow, run_id)

    def _approval(self, approval_id: int, workflow: str) -> None:
        """One approval task, once nothing else of the workflow is going here."""
        self._one_at_a_time(workflow, send_approval, self.defer_approval, approval_id)

    def _hire_event(self, event_id: int, integration: str) -> None:
        """One hiring event, once no other event of the integration is going here."""
        self._one_at_a_time(
            f"hires:{integration}",
            lambda runtime, item, _key: process_hire_event(
                runtime, item, integration, self.defer_workflow
            ),
            lambda item, _key: self.defer_hire_event(item, integration),
            event_id,
        )

    def _one_at_a_time(
        self,
        workflow: str,
        task: Callable[[Runtime, int, str], None],
        defer: Callable[[int, str], None],
        item: int,
    ) -> None:
        """Run a task of the workflow unless another one is going: then hand it over again a
        second later (the local form of Procrastinate's lock `workflow:NAME`)."""
        with self._lock:
            busy = workflow in self._busy
            self._busy.add(workflow)
        if busy:
            self._later(1.0, defer, item, workflow)
            return
        try:
            task(self.runtime, item, workflow)
        finally:
            with self._lock:
                self._busy.discard(workflow)

    def _later(self, seconds: float, defer: Callable[..., None], *args: Any) -> None:
        """Hand a task over again after a while."""
        timer = threading.Timer(seconds, defer, args=args)
        timer.daemon = True
        with self._lock:  # keep only the timers still waiting
            self._timers = [t for t in self._timers if t.is_alive()] + [timer]
        timer.start()

    def depth(self) -> dict[str, int]:
        """Tasks handed over and not started yet, by queue."""
        with self._lock:
            return dict(self._waiting)

    def check(self) -> None:
        """The pool is in this process: always reachable."""

    def close(self) -> None:
        """Let running tasks finish; tasks not started stay queued in the ledger for next time."""
        for timer in self._timers:
            timer.cancel()
        self._pool.shutdown(wait=True, cancel_futures=True)
