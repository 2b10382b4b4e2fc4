"""Notification: email about the record through the SMTP server of INVSYNC_SMTP_URL.

Recipients, subject and body are templates over the record: a SaaS user, or in a people
workflow a person (`{{ record.full_name }}`, `{{ record.start_date }}`,
`{{ record.manager_email }}`). Mail goes out with the connector's SMTP code (`connector.notify`:
the same URL forms, TLS and login); a refused or unreachable server is a failure, retried under
the block's policy when it may pass. A dry run sends nothing.
"""

from __future__ import annotations

import smtplib
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any

from connector import notify
from inventory.errors import ConfigError
from workflows import templates
from workflows.context import Record, RunContext
from workflows.objects import OBJECTS
from workflows.registry import Block, CheckEnv, Registry, Result

__all__ = ["Notification", "register"]


class Notification(Block):
    """Email about the record (recipients, subject and body are templates)."""

    type = "notification"
    keys = frozenset({"to", "subject", "body"})
    objects = frozenset(OBJECTS)

    @property
    def recipients(self) -> list[Any]:
        """The recipient templates, as a list."""
        to = self.spec.get("to")
        return [to] if isinstance(to, str) else list(to or [])

    def check(self, env: CheckEnv) -> list[str]:
        """At least one recipient; recipients, subject and body compile."""
        problems = [] if self.recipients else ['needs "to": one address or a list of them']
        for i, value in enumerate(self.recipients):
            problem = templates.check(value)
            problems += [f"to[{i}]: {problem}"] if problem else []
        for key in ("subject", "body"):
            problem = templates.check(self.spec.get(key))
            problems += [f"{key}: {problem}"] if problem else []
        return problems

    def describe(self, ctx: RunContext, record: Record) -> str:
        """Whom it would write to."""
        try:
            to, subject, _ = self._render(ctx, record)
        except templates.TemplateProblem as exc:
            return f"would fail: {exc}"
        return f"would email {', '.join(to)}: {subject}"

    def run(self, ctx: RunContext, record: Record) -> Result:
        """Render and send the message (a dry run only says what it would send)."""
        if ctx.dry_run:
            return Result.success(self.describe(ctx, record))
        try:
            to, subject, body = self._render(ctx, record)
        except templates.TemplateProblem as exc:
            return Result.failure(str(exc))
        if not ctx.settings.smtp_url:
            return Result.failure("no SMTP server: set INVSYNC_SMTP_URL (smtp://HOST:PORT)")
        return _deliver(ctx.settings.smtp_url, to, subject, body)

    def _render(self, ctx: RunContext, record: Record) -> tuple[list[str], str, str]:
        """Recipients, subject and body for this record."""
        variables = ctx.variables(record)
        to = [templates.render(str(value), variables).strip() for value in self.recipients]
        subject = templates.render(str(self.spec.get("subject")), variables)
        return (
            to,
            " ".join(subject.split()),
            templates.render(str(self.spec.get("body")), variables),
        )


def _deliver(smtp_url: str, to: list[str], subject: str, body: str) -> Result:
    """Send one message; server trouble is a failure (retryable unless the server refused)."""
    if not all("@" in address for address in to):
        return Result.failure(f"not an email address among {', '.join(to)!r}")
    try:
        target = notify.parse_smtp_url(smtp_url)
        notify._send(target, _message(target.sender, to, subject, body))
    except ConfigError as exc:
        return Result.failure(str(exc))
    except smtplib.SMTPRecipientsRefused:
        return Result.failure("the SMTP server refused every recipient")
    except smtplib.SMTPResponseException as exc:
        return Result.failure(f"the SMTP server answered {exc.smtp_code}",
                              retryable=400 <= exc.smtp_code < 500)  # fmt: skip
    except (smtplib.SMTPException, OSError) as exc:
        return Result.failure(f"the SMTP server could not be reached ({type(exc).__name__})",
                              retryable=True)  # fmt: skip
    return Result.success(f"emailed {', '.join(to)}")


def _message(sender: str, to: list[str], subject: str, body: str) -> EmailMessage:
    """A plain-text UTF-8 message."""
    message = EmailMessage()
    message["Subject"], message["From"], message["To"] = subject, sender, ", ".join(to)
    message["Date"] = formatdate(usegmt=True)
    message["Message-ID"] = make_msgid("invsync", domain=sender.rpartition("@")[2] or None)
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(body)
    return message


def register(registry: Registry) -> None:
    """Register the Notification block."""
    registry.add_block(Notification)
