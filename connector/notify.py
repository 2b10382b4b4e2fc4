"""Failure notices: an email to an integration's contacts when a sync run fails or is held.

Mail goes through the SMTP server named by `INVSYNC_SMTP_URL`:

* `smtp://host:port` — plain SMTP (port 25 by default);
* `smtp://user:pass@host:port` — with a login (user and password percent-encoded);
* `smtp://host:587?starttls=true` — upgraded to TLS with STARTTLS before any login;
* `smtps://host:465` — TLS from the first byte;
* `?from=invsync@example.com` — the sender (default: the login when it is an address, else
  invsync@ this host's name).

A notice never breaks a run: `notify_run` returns whether mail was sent and logs one WARNING line
when it was not, naming the server by host and port only, never the login or password.
"""

from __future__ import annotations

import functools
import logging
import smtplib
import socket
import ssl
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from inventory.errors import ConfigError
from inventory.settings import Settings
from inventory.statuses import SyncRunStatus

__all__ = ["NOTICE_STATUSES", "SmtpTarget", "build_notice", "notify_run", "parse_smtp_url"]

log = logging.getLogger(__name__)

NOTICE_STATUSES = (SyncRunStatus.FAILED, SyncRunStatus.HELD)
TIMEOUT = 15.0
_PORTS = {"smtp": 25, "smtps": 465}
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")
_MAX_MESSAGE = 300


@dataclass(frozen=True)
class SmtpTarget:
    """Where and how to send mail; the password never prints."""

    host: str
    port: int
    implicit_tls: bool = False
    starttls: bool = False
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    sender: str = ""

    def __str__(self) -> str:
        """The server as it may appear in a log line: host and port only."""
        return f"{self.host}:{self.port}"


def parse_smtp_url(url: str) -> SmtpTarget:
    """Read INVSYNC_SMTP_URL; a mistake is one line that never repeats the password."""
    parts = urlsplit(url.strip())
    if parts.scheme not in _PORTS:
        raise ConfigError("INVSYNC_SMTP_URL must start with smtp:// or smtps://")
    if not parts.hostname:
        raise ConfigError("INVSYNC_SMTP_URL names no host: use smtp://HOST:PORT")
    options = _options(parts.query)
    username = unquote(parts.username) if parts.username else None
    return SmtpTarget(
        host=parts.hostname,
        port=_port(parts.scheme, parts),
        implicit_tls=parts.scheme == "smtps",
        starttls=_flag(options.pop("starttls", "false")),
        username=username,
        password=unquote(parts.password) if parts.password is not None else None,
        sender=options.pop("from", "") or _default_sender(username),
    )


def _port(scheme: str, parts: Any) -> int:
    """The URL's port, or the scheme's usual one."""
    try:
        port = parts.port
    except ValueError:
        raise ConfigError(
            "INVSYNC_SMTP_URL has a port that is not a number from 1 to 65535"
        ) from None
    return port or _PORTS[scheme]


def _options(query: str) -> dict[str, str]:
    """The URL's query options, refusing any it does not know."""
    options = dict(parse_qsl(query, keep_blank_values=True))
    unknown = set(options) - {"starttls", "from"}
    if unknown:
        raise ConfigError(
            f"INVSYNC_SMTP_URL has unknown option(s) {', '.join(sorted(unknown))}: "
            "use starttls=true or from=ADDRESS"
        )
    return options


def _flag(value: str) -> bool:
    """A yes/no option."""
    if value.lower() in _TRUE:
        return True
    if value.lower() in _FALSE:
        return False
    raise ConfigError(f"INVSYNC_SMTP_URL: starttls={value!r} must be true or false")


def _default_sender(username: str | None) -> str:
    """The login when it is an address (as most providers require), else invsync@this host."""
    if username and "@" in username:
        return username
    return f"invsync@{socket.gethostname() or 'localhost'}"


def notify_run(
    settings: Settings, integration_name: str, contacts: Sequence[str], run: Mapping[str, Any]
) -> bool:
    """Email the contacts about a failed or held run; True when mail was sent. Never raises."""
    if run.get("status") not in NOTICE_STATUSES or not contacts:
        return False
    if not settings.smtp_url:
        _say_notices_are_off()
        return False
    try:
        target = parse_smtp_url(settings.smtp_url)
        _send(target, build_notice(target.sender, integration_name, contacts, run))
    except Exception as exc:  # a notice must never break the run it reports on
        log.warning(
            "notice of run %s of %r not sent: %s",
            run.get("run_id"),
            integration_name,
            _reason(exc, settings.smtp_url),
        )
        return False
    return True


@functools.cache
def _say_notices_are_off() -> None:
    """Say once per process that no SMTP server is set, so notices are off."""
    log.warning("failure notices are off: set INVSYNC_SMTP_URL (smtp://HOST:PORT) to send them")


def _send(target: SmtpTarget, message: EmailMessage) -> None:
    """Deliver one message, with TLS and a login as the target asks."""
    with _connect(target) as client:
        if target.starttls:
            client.starttls(context=ssl.create_default_context())
        if target.username:
            _login(client, target)
        refused = client.send_message(message)
    if refused:
        log.warning("notice not delivered to %d of its recipients", len(refused))


def _login(client: smtplib.SMTP, target: SmtpTarget) -> None:
    """Log in; SMTP logins carry ASCII only, which is said plainly rather than as a codec error."""
    try:
        client.login(target.username or "", target.password or "")
    except UnicodeEncodeError:
        raise ConfigError("INVSYNC_SMTP_URL: the SMTP login and password must be ASCII") from None


def _connect(target: SmtpTarget) -> smtplib.SMTP:
    """An open SMTP connection, TLS from the first byte for smtps://."""
    if target.implicit_tls:
        context = ssl.create_default_context()
        return smtplib.SMTP_SSL(target.host, target.port, timeout=TIMEOUT, context=context)
    return smtplib.SMTP(target.host, target.port, timeout=TIMEOUT)


def _reason(exc: Exception, url: str) -> str:
    """Why a notice was not sent, in words that carry no login and no password."""
    if isinstance(exc, ConfigError):
        return str(exc)
    where = f"SMTP server {_safe_host(url)}"
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return f"{where} refused the login ({exc.smtp_code})"
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return f"{where} refused every recipient"
    if isinstance(exc, smtplib.SMTPResponseException):
        return f"{where} answered {exc.smtp_code}"
    if isinstance(exc, ssl.SSLError):
        return f"TLS with {where} failed ({exc.reason or type(exc).__name__})"
    if isinstance(exc, OSError) and not isinstance(exc, smtplib.SMTPException):
        return f"cannot reach {where} ({exc.strerror or type(exc).__name__})"
    return f"{where}: {type(exc).__name__}"


def _safe_host(url: str) -> str:
    """The server of an SMTP URL as host:port, whatever else the URL holds."""
    try:
        return str(parse_smtp_url(url))
    except ConfigError:
        return "(unreadable INVSYNC_SMTP_URL)"


# --- the message --------------------------------------------------------------------------


def build_notice(
    sender: str, integration_name: str, contacts: Sequence[str], run: Mapping[str, Any]
) -> EmailMessage:
    """The plain-text UTF-8 notice of a failed or held run."""
    message = EmailMessage()
    message["Subject"] = subject(integration_name, run)
    message["From"] = sender
    message["To"] = ", ".join(contacts)
    message["Date"] = formatdate(usegmt=True)
    message["Message-ID"] = make_msgid("invsync", domain=sender.rpartition("@")[2] or None)
    message["Auto-Submitted"] = "auto-generated"
    body = notice_body(integration_name, run)
    message.set_content(body, cte="7bit" if body.isascii() else "quoted-printable")
    return message


def subject(integration_name: str, run: Mapping[str, Any]) -> str:
    """`[invsync] Lever sync 'lever' failed (run 12)`, or held with what waits for approval."""
    return f"[invsync] Lever sync '{integration_name}' {_what(run)} (run {run.get('run_id')})"


def _what(run: Mapping[str, Any]) -> str:
    """What happened to the run, in a few words."""
    if run.get("status") != SyncRunStatus.HELD:
        return "failed"
    held = _held_count(run)
    if held is None:
        return "held: changes wait for approval"
    if held == 1:
        return "held: 1 deactivation waits for approval"
    return f"held: {held} deactivations wait for approval"


def _held_count(run: Mapping[str, Any]) -> int | None:
    """How many deactivations a held run holds back, when the summary says."""
    for key in ("pending_deactivations", "pending"):
        value = run.get(key)
        if isinstance(value, bool):
            continue
        if isinstance(value, int):
            return value
        if isinstance(value, list | tuple):
            return len(value)
    return None


def notice_body(integration_name: str, run: Mapping[str, Any]) -> str:
    """Status, the run's one-line message, its counts, and what to do next."""
    run_id = run.get("run_id")
    lines = [
        f"The Lever sync '{integration_name}' {_what(run)} (run {run_id}).",
        "",
        f"Status:   {run.get('status')}",
        f"Message:  {_one_line(run.get('message')) or '(none)'}",
        *_times(run),
        "",
        "Counts",
        *_counts(run),
        "",
        "What to do",
        *_next_steps(integration_name, run),
        "",
        "-- ",
        "invsync",
    ]
    return "\n".join(lines) + "\n"


def _one_line(text: Any) -> str:
    """A message folded onto one line, cut to a readable length."""
    folded = " ".join(str(text or "").split())
    return folded if len(folded) <= _MAX_MESSAGE else folded[: _MAX_MESSAGE - 1] + "…"


def _times(run: Mapping[str, Any]) -> list[str]:
    """The run's start and end, when known."""
    labels = (("started_at", "Started:  "), ("finished_at", "Finished: "))
    return [f"{label}{run[key]}" for key, label in labels if run.get(key)]


def _counts(run: Mapping[str, Any]) -> list[str]:
    """The run's totals, then what happened to people and SaaS users."""
    totals = ", ".join(f"{k} {run[k]}" for k in ("fetched", "errors", "skipped") if k in run)
    lines = [f"  {totals}"] if totals else []
    for key, label in (("people", "people:    "), ("saas_users", "SaaS users:")):
        counts = run.get(key)
        if isinstance(counts, Mapping):
            lines.append(f"  {label} " + ", ".join(f"{v} {k}" for k, v in counts.items()))
    return lines or ["  (no counts)"]


def _next_steps(integration_name: str, run: Mapping[str, Any]) -> list[str]:
    """The commands that show the run and, for a held run, release it."""
    run_id = run.get("run_id")
    steps = [f"  See the run and its errors:   invsync runs show {run_id}"]
    if run.get("status") == SyncRunStatus.HELD:
        steps.append(f"  Approve the held changes:     invsync runs approve {run_id}")
    else:
        steps.append(f"  Fix the cause above, then:    invsync sync {integration_name}")
    return steps
