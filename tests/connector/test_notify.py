"""Failure notices through a real SMTP server on loopback (aiosmtpd): recipients, subject and
body; a server that is down; a login whose password never reaches a log line; SMTPS and STARTTLS
with a certificate the client trusts."""

from __future__ import annotations

import datetime as dt
import ipaddress
import logging
import ssl
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from connector import notify
from connector.notify import SmtpTarget, notify_run, parse_smtp_url
from inventory.errors import ConfigError
from inventory.settings import Settings
from tests.conftest import SMTP_LOGIN as LOGIN
from tests.conftest import SMTP_PASSWORD as PASSWORD
from tests.conftest import Serve, free_port

CONTACTS = ["it-ops@example.com", "ada@example.com"]
FAILED = {
    "run_id": 12, "integration": "lever", "status": "failed", "fetched": 100, "errors": 0,
    "skipped": 0, "people": {"created": 3, "updated": 1, "unchanged": 96, "skipped": 0},
    "saas_users": {"created": 3, "updated": 2, "unchanged": 95, "skipped": 0},
    "complete_read": False, "message": "Lever unreachable after 5 tries\n(503 Service Unavailable)",
    "started_at": "2024-12-03T06:22:36.064Z", "finished_at": "2024-12-03T06:23:01.100Z",
}  # fmt: skip
HELD = {**FAILED, "status": "held", "complete_read": True, "pending_deactivations": 31,
        "message": "31 SaaS users would be deactivated, more than the limit of 10"}  # fmt: skip


@pytest.fixture(autouse=True)
def fresh_process_state() -> Iterator[None]:
    """Each test starts as a fresh process would, before 'notices are off' was said."""
    notify._say_notices_are_off.cache_clear()
    yield
    notify._say_notices_are_off.cache_clear()


def settings_for(url: str | None) -> Settings:
    return Settings(smtp_url=url)


def body_of(message: EmailMessage) -> str:
    """The decoded text of a received message, with the wire's CRLF line ends made LF."""
    return str(message.get_content()).replace("\r\n", "\n")


def notice_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "connector.notify"]


def test_a_failed_run_mails_every_contact(smtp_server: Serve) -> None:
    box, port = smtp_server()
    assert notify_run(settings_for(f"smtp://127.0.0.1:{port}"), "lever", CONTACTS, FAILED)
    [(recipients, message)] = box.messages
    assert recipients == CONTACTS
    assert message["Subject"] == "[invsync] Lever sync 'lever' failed (run 12)"
    assert message["To"] == ", ".join(CONTACTS)
    assert message["Auto-Submitted"] == "auto-generated"
    assert message.get_content_type() == "text/plain"
    assert message.get_content_charset() == "utf-8"
    body = body_of(message)
    assert "Status:   failed" in body
    assert "Message:  Lever unreachable after 5 tries (503 Service Unavailable)\n" in body
    assert "fetched 100, errors 0, skipped 0" in body
    assert "people:     3 created, 1 updated, 96 unchanged, 0 skipped" in body
    assert "invsync runs show 12" in body
    assert "invsync sync lever" in body
    assert "runs approve" not in body


def test_a_held_run_says_what_waits_for_approval(smtp_server: Serve) -> None:
    box, port = smtp_server()
    assert notify_run(settings_for(f"smtp://127.0.0.1:{port}"), "lever", CONTACTS[:1], HELD)
    [(recipients, message)] = box.messages
    assert recipients == CONTACTS[:1]
    expected = "[invsync] Lever sync 'lever' held: 31 deactivations wait for approval (run 12)"
    assert message["Subject"] == expected
    body = body_of(message)
    assert "invsync runs approve 12" in body
    assert "invsync runs show 12" in body


def test_names_and_messages_in_any_language_arrive_intact(smtp_server: Serve) -> None:
    box, port = smtp_server()
    run = {**FAILED, "message": "Zoë Müller's record: 名前 is too long"}
    assert notify_run(settings_for(f"smtp://127.0.0.1:{port}"), "Lever Zürich", CONTACTS, run)
    [(_, message)] = box.messages
    assert message["Subject"] == "[invsync] Lever sync 'Lever Zürich' failed (run 12)"
    assert "Message:  Zoë Müller's record: 名前 is too long" in body_of(message)


@pytest.mark.parametrize(
    ("run", "contacts"),
    [
        ({**FAILED, "status": "succeeded"}, CONTACTS),
        ({**FAILED, "status": "completed_with_errors"}, CONTACTS),
        (FAILED, []),
    ],
)
def test_runs_that_need_no_notice_send_none(
    smtp_server: Serve, run: dict[str, Any], contacts: list[str]
) -> None:
    box, port = smtp_server()
    assert not notify_run(settings_for(f"smtp://127.0.0.1:{port}"), "lever", contacts, run)
    assert box.messages == []


def test_without_an_smtp_url_notices_are_off_and_that_is_said_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    assert not notify_run(settings_for(None), "lever", CONTACTS, FAILED)
    assert not notify_run(settings_for(None), "lever", CONTACTS, HELD)
    [record] = notice_records(caplog)
    assert "notices are off" in record.getMessage()
    assert "INVSYNC_SMTP_URL" in record.getMessage()


def test_an_smtp_server_that_is_down_is_one_warning_and_false(
    caplog: pytest.LogCaptureFixture,
) -> None:
    port = free_port()
    url = _url_with_login(port, PASSWORD)
    assert notify_run(settings_for(url), "lever", CONTACTS, FAILED) is False
    [record] = notice_records(caplog)
    assert record.levelno == logging.WARNING
    text = record.getMessage()
    assert f"cannot reach SMTP server 127.0.0.1:{port}" in text
    assert "run 12 of 'lever'" in text
    assert PASSWORD not in caplog.text and "s3cret" not in caplog.text
    assert LOGIN not in caplog.text


def _url_with_login(port: int, password: str, scheme: str = "smtp") -> str:
    """An SMTP URL with the login and a percent-encoded password."""
    from urllib.parse import quote

    return f"{scheme}://{quote(LOGIN, safe='')}:{quote(password, safe='')}@127.0.0.1:{port}"


def test_a_login_is_used_and_its_password_reaches_no_log_line(
    smtp_server: Serve, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    box, port = smtp_server(with_login=True)
    assert notify_run(settings_for(_url_with_login(port, PASSWORD)), "lever", CONTACTS, FAILED)
    assert box.logins == [(LOGIN, True)]
    assert len(box.messages) == 1
    assert box.messages[0][1]["From"] == LOGIN, "the login is the sender by default"
    assert PASSWORD not in caplog.text


@pytest.mark.parametrize(
    ("wrong", "said"),
    [
        ("not-the-Password-9f2", "SMTP server 127.0.0.1:{port} refused the login (535)"),
        ("pässwörd-9f2", "the SMTP login and password must be ASCII"),
    ],
)
def test_a_refused_login_is_one_warning_without_the_password(
    smtp_server: Serve, caplog: pytest.LogCaptureFixture, wrong: str, said: str
) -> None:
    caplog.set_level(logging.DEBUG)
    box, port = smtp_server(with_login=True)
    assert not notify_run(settings_for(_url_with_login(port, wrong)), "lever", CONTACTS, FAILED)
    assert box.messages == []
    [record] = notice_records(caplog)
    assert record.levelno == logging.WARNING
    assert said.format(port=port) in record.getMessage()
    assert wrong not in caplog.text


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and its key, as PEM files."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("tls")
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


def _server_tls(certificate: tuple[Path, Path]) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*certificate)
    return context


@pytest.mark.parametrize("mode", ["smtps", "starttls"])
def test_tls_from_the_first_byte_or_by_starttls(
    smtp_server: Serve,
    certificate: tuple[Path, Path],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    mode: str,
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(certificate[0]))
    tls = _server_tls(certificate)
    if mode == "smtps":
        box, port = smtp_server(with_login=True, ssl_context=tls)
        url = _url_with_login(port, PASSWORD, "smtps")
    else:
        box, port = smtp_server(with_login=True, tls_context=tls, require_starttls=True)
        url = _url_with_login(port, PASSWORD) + "?starttls=true"
    assert notify_run(settings_for(url), "lever", CONTACTS, HELD), caplog.text
    assert box.logins == [(LOGIN, True)]
    assert len(box.messages) == 1


def test_a_certificate_the_client_does_not_trust_stops_the_notice(
    smtp_server: Serve, certificate: tuple[Path, Path], caplog: pytest.LogCaptureFixture
) -> None:
    _, port = smtp_server(ssl_context=_server_tls(certificate))
    assert not notify_run(settings_for(f"smtps://127.0.0.1:{port}"), "lever", CONTACTS, FAILED)
    [record] = notice_records(caplog)
    assert "TLS with SMTP server" in record.getMessage()
    assert "CERTIFICATE_VERIFY_FAILED" in record.getMessage()


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("smtp://127.0.0.1:1025", SmtpTarget("127.0.0.1", 1025)),
        ("smtp://mail.example.com", SmtpTarget("mail.example.com", 25)),
        ("smtps://mail.example.com", SmtpTarget("mail.example.com", 465, implicit_tls=True)),
        (
            "smtp://bot%40example.com:p%40ss@mail.example.com:587?starttls=true",
            SmtpTarget("mail.example.com", 587, False, True, "bot@example.com", "p@ss"),
        ),
        (
            "smtp://relay:2525?from=invsync%40example.com",
            SmtpTarget("relay", 2525, sender="invsync@example.com"),
        ),
    ],
)
def test_smtp_urls_are_read(url: str, expected: SmtpTarget) -> None:
    target = parse_smtp_url(url)
    sender = expected.sender or target.sender
    assert target == SmtpTarget(**{**expected.__dict__, "sender": sender})
    assert "@" in target.sender
    assert "p@ss" not in repr(target) and "p@ss" not in str(target)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://u:hunter2@mail.example.com", "must start with smtp:// or smtps://"),
        ("smtp://u:hunter2@:25", "names no host"),
        ("smtp://u:hunter2@mail.example.com:99999", "port"),
        ("smtp://u:hunter2@mail.example.com?tls=1", "unknown option(s) tls"),
        ("smtp://u:hunter2@mail.example.com?starttls=maybe", "must be true or false"),
    ],
)
def test_bad_smtp_urls_are_refused_without_the_password(url: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")) as err:
        parse_smtp_url(url)
    assert "hunter2" not in str(err.value)


def test_a_bad_smtp_url_makes_notify_log_and_return_false(
    caplog: pytest.LogCaptureFixture,
) -> None:
    url = "smtp://u:hunter2@mail.example.com?tls=1"
    assert not notify_run(settings_for(url), "lever", CONTACTS, FAILED)
    [record] = notice_records(caplog)
    assert "unknown option(s) tls" in record.getMessage()
    assert "hunter2" not in caplog.text
