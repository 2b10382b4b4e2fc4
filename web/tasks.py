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

A worker killed mid-run (`kill -9`) is found by the recovery task. It runs when a worker
starts, and every minute on one worker; the database deduplicates the periodic defers. It closes
the run as failed once its process is gone (same host) or silent for two minutes, and marks the
job failed once the worker's heartbeat stops. With `INVSYNC_RETRY_STALLED` the integration is
queued again at once; otherwise its next schedule runs it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from connector.errors import AlreadyRunningError
from connector.jobs import close_stale_runs, enqueue_sync, waiting_integrations
from inventory.errors import InvsyncError
from inventory.settings import Settings
from web.jobs import waiting_sync_with_events

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
QUEUES = (SYNC_QUEUE,)
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


# -- the tasks ---------------------------------------------------------------------------------


def sync_task(context: JobContext, integration: str) -> None:
    """Start the integration's waiting run; wait and retry while a run started elsewhere goes."""
    run_waiting(_runtime(context), integration)


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


def run_waiting(runtime: Runtime, integration: str) -> None:
    """Run the integration's queued sync and its workflows; a failure is the run's, logged."""
    try:
        summary = waiting_sync_with_events(runtime.sessions, runtime.settings, integration)
    except AlreadyRunningError:
        raise
    except InvsyncError as exc:
        log.warning("sync of %s ended with an error: %s", integration, _line(exc))
        return
    if summary is None:
        log.info("no run of %s waits: it was cancelled or taken by another worker", integration)


async def recover(app: procrastinate.App, runtime: Runtime) -> None:
    """Close the runs of workers that died, fail their stalled jobs, and hand over every waiting
    run again (a hand-over lost with a database error is mended here)."""
    closed = await asyncio.to_thread(close_stale_runs, runtime.sessions)
    for name in closed:  # the job that ran a dead run holds the lock: free it at once
        for job in await app.job_manager.list_jobs_async(status="doing", lock=f"sync:{name}"):
            await _fail(app, job, f"its run of {name!r} was closed: the worker running it is gone")
    for job in await app.job_manager.get_stalled_jobs(seconds_since_heartbeat=STALLED_AFTER):
        await _fail(app, job, "its worker stopped sending heartbeats")
    if runtime.settings.retry_stalled:
        for name in closed:
            await asyncio.to_thread(_requeue, runtime, name)
    for name in await asyncio.to_thread(waiting_integrations, runtime.sessions):
        await _defer_async(app, name)


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


async def _defer_async(app: procrastinate.App, name: str) -> None:
    """Defer the sync job of an integration, unless one waits already."""
    from procrastinate.exceptions import AlreadyEnqueued

    with contextlib.suppress(AlreadyEnqueued):  # a job waits already
        await _sync_job(app, name).defer_async(integration=name)


def _sync_job(app: procrastinate.App, name: str) -> Any:
    """The sync task configured with the integration's locks."""
    lock = f"sync:{name}"
    return app.tasks["invsync:sync"].configure(lock=lock, queueing_lock=lock)


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

    def __init__(self, settings: Settings) -> None:
        self.app = procrastinate_app(settings)
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
        """Defer the integration's sync job, unless one waits already."""
        from procrastinate.exceptions import AlreadyEnqueued

        with contextlib.suppress(AlreadyEnqueued):  # a waiting job starts the waiting run
            _sync_job(self._open(), integration).defer(integration=integration)

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

    Waiting runs left by a process that stopped are picked up when the engine starts.
    """

    name = "local"

    def __init__(self, runtime: Runtime, workers: int = 2) -> None:
        self.runtime = runtime
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="invsync-task")
        self._waiting = 0
        self._lock = threading.Lock()
        self._timers: list[threading.Timer] = []
        for name in waiting_integrations(runtime.sessions):
            self.defer_sync(name)

    def defer_sync(self, integration: str) -> None:
        """Run the integration's waiting run on the pool."""
        with self._lock:
            self._waiting += 1
        self._pool.submit(self._sync, integration)

    def _sync(self, integration: str) -> None:
        """One sync task; behind a run started elsewhere it is tried again a little later."""
        with self._lock:
            self._waiting -= 1
        try:
            run_waiting(self.runtime, integration)
        except AlreadyRunningError:
            self._later(integration)
        except Exception:  # a task's failure never takes the serving process down
            log.exception("sync task of %s failed", integration)

    def _later(self, integration: str) -> None:
        """Try the integration's waiting run again after RETRY_WAIT seconds."""
        timer = threading.Timer(RETRY_WAIT, self.defer_sync, args=(integration,))
        timer.daemon = True
        with self._lock:  # keep only the timers still waiting
            self._timers = [t for t in self._timers if t.is_alive()] + [timer]
        timer.start()

    def depth(self) -> dict[str, int]:
        """Tasks handed over and not started yet."""
        with self._lock:
            return {SYNC_QUEUE: self._waiting}

    def check(self) -> None:
        """The pool is in this process: always reachable."""

    def close(self) -> None:
        """Let running tasks finish; tasks not started stay queued in the ledger for next time."""
        for timer in self._timers:
            timer.cancel()
        self._pool.shutdown(wait=True, cancel_futures=True)
