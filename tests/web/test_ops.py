"""`/healthz`, `/readyz` and `/metrics` on the real app, on SQLite and PostgreSQL: who may read
them, what each answers when the database is well, behind or gone, and the figures after real
syncs against the simulator."""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, event, make_url, select, text, update
from sqlalchemy.orm import Session, sessionmaker

from inventory.db import head_revision
from inventory.errors import ConfigError
from inventory.models import Integration, SyncRun, Workflow, WorkflowRun
from inventory.settings import Settings
from inventory.timeutil import utcnow
from tests.conftest import POSTGRES_URL, Sim, sync_lever
from web.app import create_app
from web.appstate import app_state, install
from web.metrics import Family, Sample, exposition

TOKEN = "scrape-Tok-9f2e51c0"
PROMETHEUS = "text/plain; version=0.0.4; charset=utf-8"
MakeApp = Callable[..., Flask]
Scraped = dict[tuple[str, frozenset[tuple[str, str]]], float]


@pytest.fixture
def make_app(settings: Settings) -> Iterator[MakeApp]:
    """Build the app on the test's instance with some settings changed; engines closed after."""
    made: list[Flask] = []

    def make(**changes: Any) -> Flask:
        app = create_app(replace(settings, **changes))
        app.config["TESTING"] = True
        made.append(app)
        return app

    yield make
    for app in made:
        state = app_state(app)
        if state.tasks is not None:
            state.tasks.close()
        state.engine.dispose()


def _with_state(app: Flask, **changes: Any) -> FlaskClient:
    """A client of the app after its state's extension points were set as given."""
    install(app, replace(app_state(app), **changes))
    return app.test_client()


# -- /healthz --------------------------------------------------------------------------------


def test_liveness_answers_at_once_without_the_database(app: Flask, client: FlaskClient) -> None:
    checkouts: list[object] = []
    event.listen(app_state(app).engine, "checkout", lambda *args: checkouts.append(args))

    answer = client.get("/healthz")

    assert answer.status_code == 200 and answer.get_json() == {"status": "ok"}
    assert answer.headers["Cache-Control"] == "no-store"
    assert checkouts == []
    client.get("/readyz")
    assert checkouts, "the listener sees the database when a view does use it"


# -- /readyz ---------------------------------------------------------------------------------


def test_readiness_says_ready_when_the_database_answers_at_the_head(
    app: Flask, client: FlaskClient
) -> None:
    answer = client.get("/readyz")

    assert answer.status_code == 200
    body = answer.get_json()
    assert body["status"] == "ready" and {"database", "schema"} <= set(body["checks"])
    assert set(body["checks"].values()) == {"ok"}
    built_in = _with_state(app, readiness_checks=()).get("/readyz")
    assert built_in.get_json() == {"status": "ready", "checks": {"database": "ok", "schema": "ok"}}


@pytest.mark.parametrize(
    ("statement", "reason"),
    [
        (
            "UPDATE alembic_version SET version_num = '0006'",
            f"the database schema is at revision 0006, this invsync needs {head_revision()}:"
            " run `invsync init` to upgrade it",
        ),
        ("DELETE FROM alembic_version", "the database has no schema yet: run `invsync init` first"),
    ],
    ids=["behind", "none"],
)
def test_readiness_fails_while_the_schema_is_not_at_the_head(
    client: FlaskClient, session_factory: sessionmaker[Session], statement: str, reason: str
) -> None:
    with session_factory.begin() as session:
        session.execute(text(statement))

    answer = client.get("/readyz")

    assert answer.status_code == 503
    body = answer.get_json()
    assert body["status"] == "unready"
    assert (body["checks"]["database"], body["checks"]["schema"]) == ("ok", reason)


def _take_the_database_away(app: Flask, database_url: str) -> None:
    """Make the app's database vanish: the SQLite file's folder, or the PostgreSQL database."""
    app_state(app).engine.dispose()
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        shutil.rmtree(Path(str(url.database)).parent)
        return
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE "{url.database}" WITH (FORCE)'))
    admin.dispose()


def test_readiness_fails_with_one_clean_line_when_the_database_is_gone(
    make_app: MakeApp, database_url: str
) -> None:
    url = make_url(database_url)
    if url.get_backend_name() == "postgresql":  # the server trusts loopback, so any password does
        url = url.set(password="pg-Secret-42")
    full_url = url.render_as_string(hide_password=False)
    app = make_app(database_url=full_url)
    _take_the_database_away(app, database_url)

    answer = app.test_client().get("/readyz")

    assert answer.status_code == 503
    body = answer.get_json()
    assert body["status"] == "unready" and {"database", "schema"} <= set(body["checks"])
    assert body["checks"]["database"].startswith("the database does not answer: ")
    assert body["checks"]["schema"].startswith("cannot open the database: ")
    assert not [reason for reason in body["checks"].values() if "\n" in reason]
    shown = answer.get_data(as_text=True)
    assert "pg-Secret-42" not in shown and full_url not in shown and "postgres@" not in shown
    assert app.test_client().get("/healthz").status_code == 200


class QueueDown(Exception):
    """What a broken queue check raises in these tests."""


def test_extra_readiness_checks_run_after_the_built_in_ones(app: Flask, settings: Settings) -> None:
    def broker() -> None:
        raise QueueDown("cannot reach amqp://invsync:hunter2@mq:5672/\nTraceback (most recent…")

    def database_echo() -> None:
        raise ValueError(f"lost {settings.db_url}")

    def config() -> None:
        raise ConfigError("the queue is not set up: set INVSYNC_QUEUE_URL")

    checks = (
        ("queue", lambda: None),
        ("broker", broker),
        ("echo", database_echo),
        ("config", config),
    )
    answer = _with_state(app, readiness_checks=checks).get("/readyz")

    assert answer.status_code == 503
    assert answer.get_json() == {
        "status": "unready",
        "checks": {
            "database": "ok",
            "schema": "ok",
            "queue": "ok",
            "broker": "QueueDown: cannot reach amqp://***@mq:5672/",
            "echo": "ValueError: lost ***",
            "config": "the queue is not set up: set INVSYNC_QUEUE_URL",
        },
    }
    order = ["database", "schema", "queue", "broker", "echo", "config"]
    assert list(answer.get_json()["checks"]) == order  # the order they ran in


def test_passing_extra_checks_keep_the_app_ready(app: Flask) -> None:
    answer = _with_state(app, readiness_checks=(("queue", lambda: None),)).get("/readyz")

    assert answer.status_code == 200
    assert answer.get_json()["checks"] == {"database": "ok", "schema": "ok", "queue": "ok"}


# -- /metrics: who may read them -------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "headers", "status"),
    [
        ({}, {}, 404),
        ({}, {"Authorization": f"Bearer {TOKEN}"}, 404),
        ({"metrics_token": TOKEN}, {}, 401),
        ({"metrics_token": TOKEN}, {"Authorization": "Bearer wrong-token"}, 401),
        ({"metrics_token": TOKEN}, {"Authorization": f"Basic {TOKEN}"}, 401),
        ({"metrics_token": TOKEN}, {"Authorization": f"Bearer {TOKEN}x"}, 401),
        ({"metrics_token": TOKEN}, {"Authorization": f"Bearer {TOKEN}"}, 200),
        ({"metrics_token": TOKEN}, {"Authorization": f"bearer  {TOKEN} "}, 200),
        ({"metrics_public": True}, {}, 200),
        ({"metrics_public": True, "metrics_token": TOKEN}, {}, 200),
    ],
    ids=[
        "off",
        "off-with-token",
        "no-token",
        "wrong",
        "basic",
        "longer",
        "right",
        "right-any-case",
        "public",
        "public-and-token",
    ],
)
def test_metrics_need_the_token_or_public_access(
    make_app: MakeApp, changes: dict[str, Any], headers: dict[str, str], status: int
) -> None:
    answer = make_app(**changes).test_client().get("/metrics", headers=headers)

    assert answer.status_code == status
    shown = answer.get_data(as_text=True)
    assert TOKEN not in shown
    if status == 200:
        assert answer.headers["Content-Type"] == PROMETHEUS
    if status == 401:
        assert shown == (
            "metrics need 'Authorization: Bearer TOKEN' with the token in INVSYNC_METRICS_TOKEN\n"
        )
        assert answer.headers["WWW-Authenticate"].startswith("Bearer")


def test_switched_off_metrics_look_like_any_unknown_path(make_app: MakeApp) -> None:
    client = make_app().test_client()
    off, unknown = client.get("/metrics"), client.get("/no-such-page")

    assert (off.status_code, off.get_data()) == (unknown.status_code, unknown.get_data())


def test_the_metrics_settings_come_from_the_environment_and_the_token_never_prints(
    tmp_path: Path,
) -> None:
    env = {"INVSYNC_METRICS_TOKEN": TOKEN, "INVSYNC_METRICS_PUBLIC": "Yes"}
    loaded = Settings.load(env=env, home=tmp_path)

    assert (loaded.metrics_token, loaded.metrics_public) == (TOKEN, True)
    assert TOKEN not in repr(loaded)
    assert Settings.load(env={"INVSYNC_METRICS_PUBLIC": "0"}).metrics_public is False
    with pytest.raises(ConfigError, match="INVSYNC_METRICS_PUBLIC must be 1, true, yes"):
        Settings.load(env={"INVSYNC_METRICS_PUBLIC": "maybe"})


# -- /metrics: the figures -------------------------------------------------------------------

_SAMPLE = re.compile(r"([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)")
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:\\.|[^"\\])*)"(?:,|$)')
_KINDS = {"gauge": ("",), "counter": ("",), "histogram": ("_bucket", "_sum", "_count")}


def _unescape(value: str) -> str:
    """A label value as Prometheus reads it back."""
    return re.sub(r"\\(.)", lambda m: "\n" if m.group(1) == "n" else m.group(1), value)


def _labels(raw: str | None) -> frozenset[tuple[str, str]]:
    """The labels of a sample line; every character must belong to a well-formed label."""
    if not raw:
        return frozenset()
    pairs = _LABEL.findall(raw)
    assert ",".join(f'{k}="{v}"' for k, v in pairs) == raw, f"bad labels {raw!r}"
    return frozenset((k, _unescape(v)) for k, v in pairs)


def _scrape(body: str) -> Scraped:
    """Parse text format 0.0.4 strictly: HELP and TYPE before each family's samples, and every
    sample named after the family it follows."""
    samples: Scraped = {}
    family, kind = "", ""
    for line in body.splitlines():
        if line.startswith("# HELP "):
            family = line.split(" ")[2]
        elif line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ")
            assert name == family and kind in _KINDS, line
        else:
            found = _SAMPLE.fullmatch(line)
            assert found, f"not a sample line: {line!r}"
            name, labels, value = found.groups()
            assert name in {family + suffix for suffix in _KINDS[kind]}, line
            samples[(name, _labels(labels))] = float(value)
    assert body.endswith("\n")
    return samples


def _at(scraped: Scraped, name: str, **labels: str) -> float:
    """One sample's value."""
    return scraped[(name, frozenset(labels.items()))]


EU = 'EU "ops" \\ team'


def _set_duration(session: Session, run_id: int, seconds: float) -> None:
    """Make a finished run have taken that long."""
    finished = utcnow()
    started = finished - timedelta(seconds=seconds)
    session.execute(
        update(SyncRun).where(SyncRun.id == run_id).values(started_at=started, finished_at=finished)
    )


def _finished(integration_id: int, status: str, seconds: float, **fields: Any) -> SyncRun:
    """A closed run that took that long."""
    now = utcnow()
    return SyncRun(integration_id=integration_id, status=status, started_at=now,
                   finished_at=now + timedelta(seconds=seconds), **fields)  # fmt: skip


def _other_runs(session: Session, lever_id: int) -> None:
    """A run of 'lever' from before counts were kept; an integration with an awkward name, one
    closed run and one still going; three runs of one workflow."""
    session.add(_finished(lever_id, "failed", 0.5, counts={}))
    eu = Integration(name=EU, credential_name="lever-key", base_url="http://127.0.0.1:9/v1")
    flow = Workflow(name="Deactivate leavers")
    session.add_all([eu, flow])
    session.flush()
    lever_counts = {"lever": {"requests": {"200": 1}, "retries": {}}}
    session.add(_finished(eu.id, "cancelled", 20, fetched=7, counts=lever_counts))
    session.add(SyncRun(integration_id=eu.id, status="running", started_at=utcnow()))
    for status in ("succeeded", "succeeded", "failed"):
        session.add(WorkflowRun(workflow_id=flow.id, version=1, status=status))


@pytest.fixture
def figures(
    launched: Sim, settings: Settings, session_factory: sessionmaker[Session], make_app: MakeApp
) -> Scraped:
    """Two real syncs of 'lever' (the first retried twice after 429s), runs of known lengths and
    other runs beside them, scraped from /metrics with the token."""
    launched[0].inject("429", count=2, retry_after="0")
    first, second = sync_lever(session_factory, settings), sync_lever(session_factory, settings)
    assert first.status == second.status == "succeeded"
    with session_factory.begin() as session:
        _set_duration(session, first.run_id, 3)
        _set_duration(session, second.run_id, 4000)
        lever_id = session.scalars(select(Integration.id).where(Integration.name == "lever")).one()
        _other_runs(session, lever_id)
    auth = {"Authorization": f"Bearer {TOKEN}"}
    answer = make_app(metrics_token=TOKEN).test_client().get("/metrics", headers=auth)
    assert answer.status_code == 200 and answer.headers["Content-Type"] == PROMETHEUS
    assert answer.headers["Cache-Control"] == "no-store"
    return _scrape(answer.get_data(as_text=True))


def _by(figures: Scraped, name: str, *labels: str) -> dict[tuple[str, ...], float]:
    """The samples of one metric, keyed by the values of the given labels."""
    found = {}
    for (sample, pairs), value in figures.items():
        if sample == name:
            found[tuple(dict(pairs)[label] for label in labels)] = value
    return found


def test_run_gauges_count_runs_by_status(figures: Scraped) -> None:
    assert _by(figures, "invsync_sync_runs", "integration", "status") == {
        ("lever", "succeeded"): 2,
        ("lever", "failed"): 1,
        (EU, "cancelled"): 1,
        (EU, "running"): 1,
    }
    assert _by(figures, "invsync_workflow_runs", "workflow", "status") == {
        ("Deactivate leavers", "succeeded"): 2,
        ("Deactivate leavers", "failed"): 1,
    }


def test_records_synced_add_up_every_run(figures: Scraped) -> None:
    assert _at(figures, "invsync_records_synced_total", integration="lever") == 500
    assert _at(figures, "invsync_records_synced_total", integration=EU) == 7


def test_the_duration_histogram_buckets_finished_runs(figures: Scraped) -> None:
    name = "invsync_sync_run_duration_seconds"
    lever = {
        le: _at(figures, f"{name}_bucket", integration="lever", le=le)
        for le in ("1", "5", "15", "60", "300", "900", "3600", "+Inf")
    }
    assert lever == {"1": 1, "5": 2, "15": 2, "60": 2, "300": 2, "900": 2, "3600": 2, "+Inf": 3}
    assert _at(figures, f"{name}_count", integration="lever") == 3
    assert _at(figures, f"{name}_sum", integration="lever") == pytest.approx(4003.5, abs=0.01)
    assert _at(figures, f"{name}_bucket", integration=EU, le="15") == 0
    assert _at(figures, f"{name}_bucket", integration=EU, le="60") == 1
    assert _at(figures, f"{name}_count", integration=EU) == 1  # the running run is left out
    assert _at(figures, f"{name}_sum", integration=EU) == pytest.approx(20, abs=0.01)


def test_lever_requests_and_retries_are_summed_over_runs(figures: Scraped) -> None:
    assert _by(figures, "invsync_lever_requests_total", "integration", "status") == {
        ("lever", "200"): 6,
        ("lever", "429"): 2,
        (EU, "200"): 1,
    }
    assert _by(figures, "invsync_lever_retries_total", "integration", "status") == {
        ("lever", "429"): 2
    }


def test_queue_depth_comes_from_the_hook_only(make_app: MakeApp) -> None:
    app = make_app(metrics_public=True)
    unhooked = _with_state(app, queue_depth=None).get("/metrics").get_data(as_text=True)
    assert "invsync_queue_depth" not in unhooked

    hooked = _with_state(app, queue_depth=lambda: {"sync": 3, "workflows": 0})
    scraped = _scrape(hooked.get("/metrics").get_data(as_text=True))
    assert _at(scraped, "invsync_queue_depth", queue="sync") == 3
    assert _at(scraped, "invsync_queue_depth", queue="workflows") == 0


def test_a_broken_queue_hook_leaves_only_its_metric_out(make_app: MakeApp) -> None:
    def broken() -> dict[str, int]:
        raise QueueDown("no broker")

    answer = _with_state(make_app(metrics_public=True), queue_depth=broken).get("/metrics")

    assert answer.status_code == 200
    body = answer.get_data(as_text=True)
    assert "invsync_queue_depth" not in body and "# TYPE invsync_sync_runs gauge" in body


# -- the text format -------------------------------------------------------------------------


def test_the_format_escapes_label_values_and_help() -> None:
    family = Family(
        "x_total",
        "counter",
        "Help with \\ and\nnewline.",
        (Sample("", {"who": 'a "b" \\ c\nd', "n": "1"}, 2.0), Sample("", {}, 0.25)),
    )

    assert exposition([family]) == (
        "# HELP x_total Help with \\\\ and\\nnewline.\n"
        "# TYPE x_total counter\n"
        'x_total{who="a \\"b\\" \\\\ c\\nd",n="1"} 2\n'
        "x_total 0.25\n"
    )
    parsed = _scrape(exposition([family]))
    assert _at(parsed, "x_total", who='a "b" \\ c\nd', n="1") == 2


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (3, "3"),
        (2.0, "2"),
        (0.5, "0.5"),
        (float("inf"), "+Inf"),
        (float("-inf"), "-Inf"),
        (float("nan"), "NaN"),
        (4003.4999, "4003.4999"),
    ],
)
def test_numbers_are_written_as_prometheus_reads_them(value: float, shown: str) -> None:
    line = exposition([Family("g", "gauge", "G.", (Sample("", {}, value),))]).splitlines()[-1]
    assert line == f"g {shown}"
