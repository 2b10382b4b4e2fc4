"""`invsync workflow`, `invsync approvals` and `invsync saas-users import` as users and scripts
meet them: real processes, real exit codes, the simulator behind them."""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from inventory.models import Person, SaasUser
from inventory.settings import Settings
from tests.conftest import Sim
from tests.web.conftest import Run
from vault.keys import load_keyring
from vault.store import Vault

EXAMPLES = Path(__file__).parents[2] / "examples" / "workflows"
ROLE_FILE = str(EXAMPLES / "lever-user-role.json")
STALE_FILE = str(EXAMPLES / "deactivate-stale-lever-users.json")
LAPTOP_FILE = str(EXAMPLES / "new-hire-laptop.json")
RUN_KEYS = {
    "run_id", "workflow", "version", "trigger", "dry_run", "status", "matched", "outcomes",
    "pending_approvals", "message", "started_at", "finished_at",
}  # fmt: skip
STEP_KEYS = {
    "record", "saas_user_id", "person_id", "block", "outcome", "message", "status_code", "at",
}  # fmt: skip


@pytest.fixture
def synced(synced: Sim, invsync: Run) -> Run:
    """The command runner on the shared synced instance (set up in-process: the commands under
    test are the workflow ones)."""
    return invsync


def ok(p: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    """A command that must succeed."""
    assert p.returncode == 0, p.stderr
    return p


def as_json(p: subprocess.CompletedProcess[str]) -> Any:
    """The JSON a successful command printed."""
    return json.loads(ok(p).stdout)


def assert_error_lines(p: subprocess.CompletedProcess[str], code: int, *texts: str) -> None:
    """A user's mistake: the exit code, one line per problem, no traceback."""
    assert p.returncode == code, (p.returncode, p.stdout, p.stderr)
    assert "Traceback" not in p.stderr
    lines = p.stderr.strip().splitlines()
    assert all(line.startswith("invsync: error: ") for line in lines), lines
    for text in texts:
        assert any(text in line for line in lines), (text, lines)


def _time(text: str) -> datetime:
    """An ISO-8601 UTC time from JSON output."""
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def write(tmp_path: Path, name: str, doc: Any) -> str:
    """A definition file."""
    path = tmp_path / name
    path.write_text(json.dumps(doc), encoding="utf-8")
    return str(path)


def status_of(factory: sessionmaker[Session], external_id: str) -> str:
    """A SaaS user's status, read from the database."""
    with factory() as session:
        stmt = select(SaasUser.status).where(SaasUser.external_id == external_id)
        return str(session.scalars(stmt).one())


def test_lever_user_role_from_draft_to_runs(
    synced: Run, lever_sim: Sim, session_factory: sessionmaker[Session]
) -> None:
    sim = lever_sim[0]
    assert ok(synced("workflow", "create", "--file", ROLE_FILE)).stdout.strip() == "Lever user role"
    assert ok(synced("workflow", "validate", "Lever user role")).stdout.strip() == "valid"
    assert_error_lines(synced("workflow", "run", "Lever user role"), 2, "is a draft")

    gone = next(u["id"] for u in sim.users if not u["deactivatedAt"])
    sim.remove_user(gone)
    posts = sim.calls("POST")
    dry = as_json(synced("workflow", "run", "Lever user role", "--dry-run", "--format", "json"))
    assert set(dry) == RUN_KEYS and dry["dry_run"] is True and dry["status"] == "succeeded"
    assert sim.calls("POST") == posts
    assert status_of(session_factory, gone) == "active"

    ok(synced("workflow", "activate", "Lever user role"))
    real = as_json(synced("workflow", "run", "Lever user role", "--format", "json"))
    assert real["matched"] == dry["matched"] > 0
    assert real["outcomes"] == dry["outcomes"]
    assert real["outcomes"]["role"] == {"success": real["matched"], "failure": 0}
    assert status_of(session_factory, gone) == "deactivated"

    runs = as_json(synced("workflow", "runs", "Lever user role", "--format", "json"))
    assert [r["run_id"] for r in runs] == [real["run_id"], dry["run_id"]]
    shown = as_json(synced("workflow", "runs", "show", str(real["run_id"]), "--format", "json"))
    assert set(shown) == RUN_KEYS | {"steps"}
    assert set(shown["steps"][0]) == STEP_KEYS
    assert len(shown["steps"]) == 3 * real["matched"]
    assert as_json(synced("workflow", "run-show", str(real["run_id"]), "--format", "json")) == shown
    table = ok(synced("workflow", "runs", "show", str(real["run_id"]), "--outcome", "success"))
    assert "not in Lever" in table.stdout

    workflows = as_json(synced("workflow", "list", "--format", "json"))
    assert [(w["name"], w["state"], w["version"]) for w in workflows] == [
        ("Lever user role", "active", 1)
    ]


def test_deactivate_stale_users_through_the_cli(synced: Run, lever_sim: Sim) -> None:
    year_ago = datetime.now(UTC) - timedelta(days=365)
    accounts = as_json(synced("saas-users", "list", "--format", "json"))
    stale = {
        a["external_id"]
        for a in accounts
        if a["status"] == "active" and a["last_login_at"] and _time(a["last_login_at"]) < year_ago
    }
    assert stale
    ok(synced("workflow", "create", "--file", STALE_FILE))
    ok(synced("workflow", "activate", "Deactivate stale Lever users"))
    summary = as_json(synced("workflow", "run", "Deactivate stale Lever users", "--format", "json"))
    assert summary["matched"] == len(stale)
    assert summary["outcomes"]["delete"] == {"success": len(stale), "failure": 0}
    sim = lever_sim[0]
    assert {u["id"] for u in sim.users if u["deactivatedAt"]} >= stale
    assert sim.calls("POST") == len(stale)
    table = ok(synced("workflow", "run", "Deactivate stale Lever users"))
    assert "matched 0" in table.stdout


def test_an_invalid_definition_is_one_line_per_problem(synced: Run, tmp_path: Path) -> None:
    doc = json.loads(Path(STALE_FILE).read_text(encoding="utf-8"))
    doc["blocks"][1]["preset"] = "lever_delet_user"
    doc["blocks"][1]["credential"] = "nope"
    doc["edges"].pop()
    path = write(tmp_path, "bad.json", doc)
    for args in (("workflow", "create", "--file", path), ("workflow", "validate", "--file", path)):
        p = synced(*args)
        assert_error_lines(p, 2, "block 'delete': unknown preset 'lever_delet_user'",
                           "block 'delete': credential 'nope' is not in the vault",
                           "block 'delete': the failure exit is not connected")  # fmt: skip
        assert len(p.stderr.strip().splitlines()) == 3
    assert as_json(synced("workflow", "list", "--format", "json")) == []
    (tmp_path / "broken.json").write_text("{not json", encoding="utf-8")
    assert_error_lines(synced("workflow", "create", "--file", str(tmp_path / "broken.json")), 2,
                       "is not a JSON definition")  # fmt: skip


def test_update_of_an_active_workflow_is_a_new_version(synced: Run, tmp_path: Path) -> None:
    ok(synced("workflow", "create", "--file", ROLE_FILE))
    ok(synced("workflow", "activate", "Lever user role"))
    doc = json.loads(Path(ROLE_FILE).read_text(encoding="utf-8"))
    doc["description"] = "changed"
    updated = as_json(synced("workflow", "update", "--file", write(tmp_path, "r.json", doc),
                             "--format", "json"))  # fmt: skip
    assert (updated["result"], updated["version"], updated["state"]) == ("new_version", 2, "active")
    assert json.loads(ok(synced("workflow", "show", "Lever user role")).stdout) == doc
    run = as_json(synced("workflow", "run", "Lever user role", "--format", "json"))
    assert run["version"] == 2
    assert (
        ok(synced("workflow", "deactivate", "Lever user role")).stdout.strip().endswith("inactive")
    )


def test_supervised_approvals_through_the_cli(synced: Run, lever_sim: Sim, tmp_path: Path) -> None:
    sim = lever_sim[0]
    targets = [u["id"] for u in sim.users if not u["deactivatedAt"]][:2]
    doc = json.loads(Path(STALE_FILE).read_text(encoding="utf-8"))
    doc |= {"name": "careful", "run_mode": "supervised", "trigger": {"type": "manual"},
            "criteria": {"field": "external_id", "op": "in", "value": targets}}  # fmt: skip
    ok(synced("workflow", "create", "--file", write(tmp_path, "c.json", doc)))
    ok(synced("workflow", "activate", "careful"))
    summary = as_json(synced("workflow", "run", "careful", "--format", "json"))
    assert (summary["status"], summary["pending_approvals"]) == ("waiting_approval", 2)
    assert sim.calls("POST") == 0
    pending = as_json(synced("approvals", "list", "--format", "json"))
    assert [a["status"] for a in pending] == ["pending", "pending"]
    first, second = (a["id"] for a in pending)
    approved = as_json(
        synced("approvals", "approve", str(first), "--by", "ada", "--format", "json")
    )
    assert (approved["status"], approved["outcome"]) == ("approved", "success")
    assert sim.calls("POST") == 1
    assert "rejected" in ok(synced("approvals", "reject", str(second))).stdout
    assert sim.calls("POST") == 1
    assert as_json(synced("approvals", "list", "--format", "json")) == []
    decided = as_json(synced("approvals", "list", "--status", "all", "--format", "json"))
    assert [a["status"] for a in decided] == ["approved", "rejected"]
    assert_error_lines(synced("approvals", "approve", str(first)), 2, "was approved already")
    runs = as_json(synced("workflow", "runs", "careful", "--format", "json"))
    assert runs[0]["status"] == "succeeded" and runs[0]["pending_approvals"] == 0


def test_import_last_activity_exit_3_on_bad_rows(
    synced: Run, lever_sim: Sim, tmp_path: Path
) -> None:
    user = next(u for u in lever_sim[0].users if not u["deactivatedAt"])
    path = tmp_path / "activity.csv"
    path.write_text(f"email,role,last_activity\n{user['email']},admin,2026-12-01T10:00:00Z\n"
                    "ghost@example.com,admin,2026-01-01\n", encoding="utf-8")  # fmt: skip
    p = synced("saas-users", "import", "--app", "Lever", str(path), "--format", "json")
    assert p.returncode == 3, p.stderr
    result = json.loads(p.stdout)
    assert (result["rows"], result["updated"], result["errors"]) == (2, 1, 1)
    assert result["error_rows"] == [{"line": 3, "email": "ghost@example.com",
                                     "message": "no Lever SaaS user has this email"}]  # fmt: skip
    listed = as_json(synced("saas-users", "list", "--format", "json"))
    mine = next(a for a in listed if a["external_id"] == user["id"])
    assert (mine["role"], mine["last_login_at"]) == ("admin", "2026-12-01T10:00:00.000Z")
    good = tmp_path / "good.csv"
    good.write_text(f"email,last_activity\n{user['email']},2026-12-02\n", encoding="utf-8")
    assert "1 updated" in ok(synced("saas-users", "import", str(good))).stdout


def test_a_people_workflow_through_the_cli(
    synced: Run, tmp_path: Path, session_factory: sessionmaker[Session]
) -> None:
    with session_factory.begin() as session:
        session.add(Person(email="ada@example.com", email_key="ada@example.com",
                           full_name="Ada Lovelace", status="pre_start", custom={},
                           department="Engineering", location="Berlin",
                           start_date=date(2027, 1, 4)))  # fmt: skip
    assert ok(synced("workflow", "create", "--file", LAPTOP_FILE)).stdout.strip() == (
        "New hire laptop"
    )
    listed = as_json(synced("workflow", "list", "--format", "json"))
    assert [(w["name"], w["object"]) for w in listed] == [("New hire laptop", "people")]
    assert "people" in ok(synced("workflow", "list")).stdout
    dry = as_json(synced("workflow", "run", "New hire laptop", "--dry-run", "--format", "json"))
    assert (dry["matched"], dry["status"]) == (1, "succeeded")
    shown = as_json(synced("workflow", "runs", "show", str(dry["run_id"]), "--format", "json"))
    mail = next(step for step in shown["steps"] if step["block"] == "laptop")
    assert (mail["record"], mail["saas_user_id"]) == ("ada@example.com", None)
    assert isinstance(mail["person_id"], int)
    assert mail["message"] == ("would email it-orders@example.com: Laptop for Ada Lovelace, "
                               "starting 2027-01-04, Engineering, Berlin")  # fmt: skip
    doc = json.loads(Path(LAPTOP_FILE).read_text(encoding="utf-8")) | {"run_mode": "supervised"}
    assert_error_lines(synced("workflow", "validate", "--file", write(tmp_path, "s.json", doc)),
                       2, "run_mode: a people workflow changes no Lever user")  # fmt: skip


def test_blocks_are_listed_with_what_they_do(synced: Run) -> None:
    rows = as_json(synced("workflow", "blocks", "--format", "json"))
    names = {(r["kind"], r["name"]) for r in rows}
    assert {("block", "saas_user_role"), ("block", "api"), ("preset", "lever_user_role"),
            ("preset", "lever_delete_user")} <= names  # fmt: skip
    assert all(r["description"] for r in rows)


@pytest.mark.parametrize(
    ("args", "code", "text"),
    [
        (("workflow", "run", "nope"), 2, "no workflow named 'nope'"),
        (("workflow", "runs", "show", "999"), 2, "no workflow run 999"),
        (("workflow", "runs", "show", "x"), 2, "run id must be a number"),
        (("workflow", "validate"), 2, "give a workflow NAME or --file FILE"),
        (("workflow", "activate", "nope"), 2, "no workflow named 'nope'"),
        (("approvals", "approve", "999"), 2, "no approval 999"),
        (("saas-users", "import", "--app", "Lucidchart", "README.md"), 2, "no SaaS app named"),
    ],
)
def test_mistakes_are_one_line_exit_2(
    synced: Run, args: tuple[str, ...], code: int, text: str
) -> None:
    p = synced(*args)
    assert_error_lines(p, code, text)
    assert len(p.stderr.strip().splitlines()) == 1


def test_a_refused_key_fails_the_run_with_exit_1(
    synced: Run, settings: Settings, session_factory: sessionmaker[Session]
) -> None:
    ok(synced("workflow", "create", "--file", STALE_FILE))
    ok(synced("workflow", "activate", "Deactivate stale Lever users"))
    with session_factory.begin() as session:
        Vault(session, load_keyring(settings)).add(
            "lever-key", "wrong-key-55555", " ", replace=True
        )
    p = synced("workflow", "run", "Deactivate stale Lever users", "--format", "json")
    assert_error_lines(p, 1, "Lever API key refused")
    assert json.loads(p.stdout)["status"] == "failed"
    assert "wrong-key-55555" not in p.stdout + p.stderr
