"""The `invsync` command line as users and scripts meet it: real processes, real exit codes."""

from __future__ import annotations

import csv
import io
import json
import subprocess
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from connector.lever.sim import LeverSimulator, SimulatorServer
from inventory.settings import Settings
from inventory.timeutil import utcnow
from tests.conftest import API_KEY, create_lever
from tests.inventory.test_queries import add_hires
from tests.web.conftest import Run, invsync_env, run_invsync

Sim = tuple[LeverSimulator, SimulatorServer]
Factory = sessionmaker[Session]
PERSON_KEYS = {
    "username", "email", "first_name", "last_name", "full_name", "role", "job_title", "status",
    "custom", "created_at", "updated_at", "last_synced_at", "start_date", "department",
    "location", "personal_email", "manager_email",
}  # fmt: skip
SAAS_KEYS = {
    "app", "external_id", "email", "name", "role", "status", "created_at", "deactivated_at",
    "last_login_at", "last_seen_at", "person_email",
}  # fmt: skip


@pytest.fixture
def configured(invsync: Run, settings: Settings, session_factory: Factory, lever_sim: Sim) -> Run:
    """An instance with the simulator's key stored and a draft integration 'lever', made
    in-process (test_the_setup_path_runs_on_the_command_line makes them with the commands)."""
    create_lever(session_factory, settings, lever_sim[1].url, smart=False, launch=False)
    return invsync


@pytest.fixture
def launched(launched: Sim, invsync: Run) -> Run:
    """The command runner on an instance whose integration 'lever' is smart-mapped and
    launched (made in-process, as `configured`)."""
    return invsync


def test_the_setup_path_runs_on_the_command_line(invsync: Run, lever_sim: Sim) -> None:
    init = invsync("init")
    assert init.returncode == 0, init.stderr
    assert init.stdout.startswith("database ready: ")
    added = invsync(
        "vault", "add", "lever-key", "--username", API_KEY, "--password-stdin", stdin=" \n"
    )
    assert added.returncode == 0, added.stderr
    assert "stored credential 'lever-key'" in added.stdout and API_KEY[-4:] in added.stdout
    assert API_KEY not in added.stdout + added.stderr
    created = invsync(
        "integration", "create", "lever", "--connector", "lever", "--credential", "lever-key",
        "--base-url", lever_sim[1].url, "--max-rps", "0",
    )  # fmt: skip
    assert created.returncode == 0, created.stderr
    assert "created integration 'lever' (draft)" in created.stdout
    mapped = invsync("integration", "map", "lever", "--smart")
    assert mapped.returncode == 0, mapped.stderr
    assert "state: draft; ready to launch" in mapped.stdout
    launch = invsync("integration", "launch", "lever")
    assert launch.returncode == 0, launch.stderr
    assert "integration 'lever' is active" in launch.stdout
    shown = json.loads(invsync("integration", "show", "lever", "--format", "json").stdout)
    assert (shown["state"], shown["credential"]) == ("active", "lever-key")
    assert shown["options"]["max_rps"] == 0
    synced = invsync("sync", "lever")
    assert synced.returncode == 0, synced.stderr
    assert "of 'lever': succeeded; fetched 250, errors 0" in synced.stdout


def assert_one_line_error(p: subprocess.CompletedProcess[str], code: int, text: str) -> None:
    """A user's mistake: the exit code, one line on stderr naming the fix, no traceback."""
    assert p.returncode == code, (p.returncode, p.stderr)
    assert "Traceback" not in p.stderr
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1, p.stderr
    assert text in lines[0]


def test_sync_json_contract_and_lists(launched: Run, lever_sim: Sim) -> None:
    p = launched("sync", "lever", "--format", "json")
    assert p.returncode == 0, p.stderr
    summary = json.loads(p.stdout)
    assert summary["status"] == "succeeded" and summary["fetched"] == 250 and summary["errors"] == 0
    assert summary["people"] == {"created": 250, "updated": 0, "unchanged": 0, "skipped": 0}
    assert summary["saas_users"]["created"] == 250

    people = json.loads(launched("people", "list", "--format", "json").stdout)
    assert len(people) == 250 and set(people[0]) == PERSON_KEYS
    assert all(p["last_synced_at"].endswith("Z") for p in people)
    assert {p["custom"]["Lever ID"] for p in people} == {u["id"] for u in lever_sim[0].users}

    accounts = json.loads(
        launched("saas-users", "list", "--app", "Lever", "--format", "json").stdout
    )
    assert len(accounts) == 250 and set(accounts[0]) == SAAS_KEYS
    by_id = {a["external_id"]: a for a in accounts}
    for user in lever_sim[0].users:
        account = by_id[user["id"]]
        assert account["role"] == user["accessRole"]
        assert account["status"] == ("deactivated" if user["deactivatedAt"] else "active")


def test_people_csv_has_a_row_per_person_and_custom_columns(launched: Run) -> None:
    launched("sync", "lever")
    out = launched("people", "list", "--format", "csv").stdout
    rows = list(csv.DictReader(io.StringIO(out)))
    assert len(rows) == 250
    assert "custom.Lever ID" in rows[0] and rows[0]["custom.Lever ID"]
    assert any(any(ord(ch) > 127 for ch in r["full_name"]) for r in rows), "non-ASCII names kept"


def test_people_list_of_pre_start_people(invsync: Run, session_factory: Factory) -> None:
    today = utcnow().date()
    with session_factory.begin() as session:
        add_hires(session, today)
    listed = invsync("people", "list", "--status", "pre_start", "--format", "json")
    assert listed.returncode == 0, listed.stderr
    people = json.loads(listed.stdout)
    assert [p["email"].split("@")[0] for p in people] == ["hana", "ivo", "jan", "kim", "lee", "max"]
    assert all(set(p) == PERSON_KEYS for p in people)
    hana = people[0]
    assert (hana["status"], hana["start_date"], hana["department"], hana["location"]) == (
        "pre_start", today.isoformat(), "Engineering", "Berlin",
    )  # fmt: skip
    assert (hana["manager_email"], hana["personal_email"]) == (
        "mia@corp.example",
        "hana@home.example",
    )
    assert people[-1]["start_date"] is None and people[-1]["manager_email"] is None
    cancelled = json.loads(
        invsync("people", "list", "--status", "cancelled", "--format", "json").stdout
    )
    assert [p["email"] for p in cancelled] == ["nia@corp.example"]
    both = invsync(
        "people", "list", "--status", "cancelled", "--status", "pre_start", "--format", "json"
    )
    assert len(json.loads(both.stdout)) == 7


def test_the_table_of_pre_start_people_shows_when_they_start(
    invsync: Run, session_factory: Factory
) -> None:
    today = utcnow().date()
    with session_factory.begin() as session:
        add_hires(session, today)
    header, *rows = invsync("people", "list", "--status", "pre_start").stdout.splitlines()
    assert header.split() == [
        "email", "full_name", "role", "job_title", "status", "start_date", "department",
        "manager_email",
    ]  # fmt: skip
    assert rows[0].startswith("hana@corp.example") and today.isoformat() in rows[0]
    assert "mia@corp.example" in rows[0] and len(rows) == 6
    everyone = invsync("people", "list").stdout.splitlines()[0].split()
    assert "start_date" not in everyone and "last_synced_at" in everyone


def test_second_sync_reports_nothing_created_or_updated(launched: Run) -> None:
    launched("sync", "lever")
    again = json.loads(launched("sync", "lever", "--format", "json").stdout)
    assert again["people"]["created"] == again["people"]["updated"] == 0
    assert again["saas_users"]["created"] == again["saas_users"]["updated"] == 0


def test_per_record_errors_exit_3_and_the_rest_syncs(launched: Run, lever_sim: Sim) -> None:
    lever_sim[0].set_raw_user({"id": "no-email-user", "name": "No Email"})
    p = launched("sync", "lever", "--format", "json")
    assert p.returncode == 3
    summary = json.loads(p.stdout)
    assert summary["status"] == "completed_with_errors" and summary["errors"] == 1
    assert summary["people"]["created"] == 250


def test_refused_key_exits_1_with_one_line_and_no_key(configured: Run, lever_sim: Sim) -> None:
    configured(
        "vault",
        "add",
        "lever-key",
        "--username",
        "wrong-key-98765",
        "--replace",
        "--password-stdin",
        stdin="\n",
    )
    configured("integration", "map", "lever", "--smart")
    configured("integration", "launch", "lever")
    p = configured("sync", "lever")
    assert_one_line_error(p, 1, "Lever API key refused")
    assert "wrong-key-98765" not in p.stdout + p.stderr


def test_a_draft_does_not_sync_and_launch_says_what_is_missing(configured: Run) -> None:
    assert_one_line_error(configured("sync", "lever"), 2, "is a draft")
    p = configured("integration", "launch", "lever")
    assert_one_line_error(p, 2, "still needed: map username; map email; map role")


def test_hand_mapping_then_launch(configured: Run) -> None:
    p = configured(
        "integration", "map", "lever", "--set", "email=Email", "--set", "username=email",
        "--set", "role=const:Staff", "--set", "job_title=template:{jobTitle} ({accessRole})",
    )  # fmt: skip
    assert p.returncode == 0, p.stderr
    assert "ready to launch" in p.stdout
    assert configured("integration", "launch", "lever").returncode == 0
    assert configured("sync", "lever").returncode == 0
    people = json.loads(configured("people", "list", "--format", "json").stdout)
    assert {p["role"] for p in people} == {"Staff"}
    assert all(p["job_title"].endswith(")") for p in people)


@pytest.mark.parametrize(
    ("args", "code", "text"),
    [
        (("sync", "no-such-integration"), 2, "no integration named 'no-such-integration'"),
        (("integration", "map", "lever", "--set", "shoe_size=name"), 2, "unknown target field"),
        (("integration", "map", "lever"), 2, "--smart, --set TARGET=SOURCE or --show"),
        (("integration", "create", "x", "--credential", "nope"), 2, "no credential named 'nope'"),
        (
            ("integration", "create", "y", "--credential", "lever-key", "--base-url", "ftp://x"),
            2,
            "invalid --base-url",
        ),
        (("integration", "create", "lever", "--credential", "lever-key"), 2, "already exists"),
        (("people", "list", "--format", "xml"), 2, "'xml' is not one of"),
        (("vault", "add", "bad name!", "--username", "k"), 2, "bad name!"),
        (("frobnicate",), 2, "No such command 'frobnicate'"),
    ],
)
def test_user_mistakes_are_one_line_exit_2(
    configured: Run, args: tuple[str, ...], code: int, text: str
) -> None:
    assert_one_line_error(configured(*args), code, text)


def test_commands_before_init_say_to_run_init(tmp_path: Path) -> None:
    p = run_invsync(invsync_env(tmp_path / "new-instance"), "people", "list")
    assert_one_line_error(p, 2, "run `invsync init` first")


def test_vault_list_and_rotation_never_show_the_key(launched: Run) -> None:
    listed = launched("vault", "list", "--format", "json")
    entries = json.loads(listed.stdout)
    assert entries[0]["name"] == "lever-key" and entries[0]["username_hint"].endswith(API_KEY[-4:])
    rotated = launched("vault", "rotate-key")
    assert rotated.returncode == 0, rotated.stderr
    synced = launched("sync", "lever")
    assert synced.returncode == 0, synced.stderr
    table = launched("vault", "list")
    for p in (listed, rotated, synced, table):
        assert API_KEY not in p.stdout + p.stderr


def test_demo_runs_the_whole_tour_without_serving(invsync: Run) -> None:
    p = invsync("demo", "--users", "40", "--no-serve")
    assert p.returncode == 0, p.stderr
    assert "synced 40 Lever users: succeeded" in p.stdout
    again = invsync("demo", "--users", "40", "--no-serve")
    assert again.returncode == 0, again.stderr
    people = json.loads(invsync("people", "list", "--format", "json").stdout)
    assert len(people) >= 40


def test_integration_update_changes_only_what_is_given(configured: Run) -> None:
    p = configured(
        "integration", "update", "lever", "--contact", "it@example.com", "--contact",
        "ops@example.com", "--max-deactivate", "3", "--login-activity", "audit-events",
        "--preference", "update-only",
    )  # fmt: skip
    assert p.returncode == 0, p.stderr
    shown = json.loads(configured("integration", "show", "lever", "--format", "json").stdout)
    assert shown["contacts"] == ["it@example.com", "ops@example.com"]
    assert (shown["max_deactivate"], shown["login_activity"]) == (3, "audit-events")
    assert shown["preference"] == "update_only" and shown["deactivate_missing"] is True
    assert shown["credential"] == "lever-key" and shown["options"]["max_rps"] == 0
    configured("integration", "update", "lever", "--clear-contacts", "--login-activity", "none")
    shown = json.loads(configured("integration", "show", "lever", "--format", "json").stdout)
    assert (shown["contacts"], shown["login_activity"]) == ([], None)


@pytest.mark.parametrize(
    ("args", "text"),
    [
        (("--contact", "not-an-address"), "is not an email address"),
        (("--credential", "missing"), "no credential named 'missing'"),
        ((), "nothing to change"),
    ],
)
def test_integration_update_refuses_bad_settings(
    configured: Run, args: tuple[str, ...], text: str
) -> None:
    assert_one_line_error(configured("integration", "update", "lever", *args), 2, text)


def test_a_sync_hands_created_accounts_to_record_created_workflows(
    launched: Run, tmp_path: Path, lever_sim: Sim
) -> None:
    admins = {"all": [{"field": "role", "op": "in", "value": ["admin", "super admin"]}]}
    definition = {
        "name": "Tag new admins", "object": "saas_users", "trigger": {"type": "record_created"},
        "criteria": admins, "run_mode": "autopilot",
        "blocks": [{"id": "begin", "type": "begin"},
                   {"id": "tag", "type": "update", "set": {"role": "admin (checked)"}},
                   {"id": "end", "type": "end"}],
        "edges": [{"from": "begin", "to": "tag"}, {"from": "tag", "to": "end", "on": "success"},
                  {"from": "tag", "to": "end", "on": "failure"}],
    }  # fmt: skip
    path = tmp_path / "tag.json"
    path.write_text(json.dumps(definition), encoding="utf-8")
    assert launched("workflow", "create", "--file", str(path)).returncode == 0
    assert launched("workflow", "activate", "Tag new admins").returncode == 0
    assert launched("sync", "lever").returncode == 0
    accounts = json.loads(launched("saas-users", "list", "--format", "json").stdout)
    admins_in_lever = [u for u in lever_sim[0].users if u["accessRole"] in ("admin", "super admin")]
    assert admins_in_lever
    assert sum(a["role"] == "admin (checked)" for a in accounts) == len(admins_in_lever)
    runs = json.loads(launched("workflow", "runs", "Tag new admins", "--format", "json").stdout)
    assert [r["matched"] for r in runs] == [len(admins_in_lever)]
