"""CSV injection: every formula prefix is neutralised in each CSV the product writes (list
export, report download, `--format csv`), all in one dialect."""

from __future__ import annotations

import csv
import io

import pytest
from sqlalchemy.orm import Session, sessionmaker

from inventory.models import Person
from inventory.records import add_records
from inventory.timeutil import utcnow
from tests.web.conftest import Run, SignIn
from web import csvout

# One job title per dangerous first character, each a formula a spreadsheet would run.
DANGEROUS = {
    "=": '=HYPERLINK("http://evil.example","x")',
    "+": "+1+cmd|' /C calc'!A0",
    "-": "-2+3+cmd|' /C calc'!A0",
    "@": "@SUM(1+9)*cmd|' /C calc'!A0",
    "\t": "\t=1+1",
    "\r": "\r=1+1",
}


def _email(prefix: str) -> str:
    return f"u{ord(prefix)}@corp.example"


@pytest.fixture
def hostile(session_factory: sessionmaker[Session]) -> None:
    """A person per dangerous prefix, the formula in the job title, plus a harmless one."""
    people = [
        Person(email=_email(p), email_key=_email(p), full_name="Eve", job_title=title)
        for p, title in DANGEROUS.items()
    ]
    people.append(Person(email="ok@corp.example", email_key="ok@corp.example", job_title="CTO"))
    with session_factory.begin() as session:
        add_records(session, people, utcnow())


def _titles(text: str) -> dict[str, str]:
    """Job title by email, read the way a spreadsheet reads the file."""
    assert "\r\n" in text and "\n" not in text.replace("\r\n", ""), "one line ending: CRLF"
    return {r["email"]: r["job_title"] for r in csv.DictReader(io.StringIO(text, newline=""))}


def _assert_neutralised(titles: dict[str, str]) -> None:
    for prefix, title in DANGEROUS.items():
        assert titles[_email(prefix)] == "'" + title, f"prefix {prefix!r} left live"
    assert titles["ok@corp.example"] == "CTO", "harmless text is unchanged"


def test_the_list_export_neutralises_every_prefix(hostile: None, signed_in: SignIn) -> None:
    answer = signed_in("viewer").get("/people?format=csv&cols=email,job_title")
    assert answer.status_code == 200
    _assert_neutralised(_titles(answer.get_data(as_text=True)))


def test_the_report_download_neutralises_every_prefix(hostile: None, signed_in: SignIn) -> None:
    answer = signed_in("viewer").get("/reports/people.csv")
    assert answer.status_code == 200
    _assert_neutralised(_titles(answer.get_data(as_text=True)))


def test_the_command_line_csv_neutralises_every_prefix(hostile: None, invsync: Run) -> None:
    done = invsync("people", "list", "--format", "csv")
    assert done.returncode == 0, done.stderr
    _assert_neutralised(_titles(done.stdout))


@pytest.mark.parametrize("prefix", sorted(DANGEROUS))
def test_a_cell_with_a_formula_prefix_gets_a_quote(prefix: str) -> None:
    assert csvout.cell(prefix + "1") == "'" + prefix + "1"


def test_numbers_none_and_plain_text_are_written_as_they_are() -> None:
    assert [csvout.cell(v) for v in (-3, 2.5, None, "a=b", "Zoë")] == [
        "-3", "2.5", "", "a=b", "Zoë"
    ]  # fmt: skip


def test_quotes_commas_and_newlines_round_trip() -> None:
    tricky = 'R&D, "East"\nfloor 2'
    text = "".join(csvout.lines(["a", "b"], [[tricky, 1]]))
    assert list(csv.reader(io.StringIO(text, newline=""))) == [["a", "b"], [tricky, "1"]]


def test_rows_stream_in_chunks() -> None:
    rows = 3 * csvout.CHUNK_ROWS + 5
    chunks = list(csvout.lines(["n"], ([i] for i in range(rows))))
    assert len(chunks) == 4, "a chunk per CHUNK_ROWS rows, then the rest"
    assert "".join(chunks).count("\r\n") == rows + 1
