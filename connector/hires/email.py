"""Work emails from an integration's format, e.g. `{first}.{last}@example.com`.

Names are folded to plain ASCII (accents dropped, `ß` → `ss`, `Ø` → `o`), lower-cased, and
stripped of anything but letters, digits and hyphens (spaces and apostrophes go: "Anne-Marie
O'Neil da Silva" → `anne-marie.oneildasilva`). An address already held by another person is
numbered (`ada.lovelace2@…`), and the caller reports it.
"""

from __future__ import annotations

import re
import string
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass

from connector.errors import EmailFormatError

__all__ = ["PLACEHOLDERS", "WorkEmail", "check_format", "fold", "work_email"]

PLACEHOLDERS = ("first", "last", "f", "l")
_EXAMPLE = "'{first}.{last}@example.com'"
# Letters NFKD does not take apart into a base letter and an accent.
_SPECIAL = str.maketrans({"ß": "ss", "ø": "o", "Ø": "o", "æ": "ae", "Æ": "ae", "œ": "oe",
                          "Œ": "oe", "ł": "l", "Ł": "l", "đ": "d", "Đ": "d", "þ": "th",
                          "Þ": "th"})  # fmt: skip
_KEEP = re.compile(r"[^a-z0-9-]")
_MAX_NUMBER = 999


@dataclass(frozen=True)
class WorkEmail:
    """The address given, and the taken one it was numbered after (None when it was free)."""

    address: str
    instead_of: str | None = None


def fold(text: str) -> str:
    """A name part as it goes into an address: ASCII, lower case, letters digits hyphens."""
    plain = unicodedata.normalize("NFKD", text.translate(_SPECIAL))
    ascii_only = "".join(c for c in plain if not unicodedata.combining(c))
    return _KEEP.sub("", ascii_only.lower()).strip("-")


def check_format(text: str) -> str:
    """The format, once it names only known placeholders and reads as one address."""
    try:
        names = [name for _, name, _, _ in string.Formatter().parse(text) if name is not None]
    except ValueError:
        raise EmailFormatError(
            f"cannot read --email-format {text!r}: write e.g. {_EXAMPLE}"
        ) from None
    unknown = sorted(set(names) - set(PLACEHOLDERS))
    if unknown:
        raise EmailFormatError(
            f"unknown placeholder {{{unknown[0]}}} in --email-format: use "
            f"{', '.join('{' + p + '}' for p in PLACEHOLDERS)}, e.g. {_EXAMPLE}"
        )
    _, at, domain = text.partition("@")
    if not names or not at or "." not in domain or "{" in domain or " " in text:
        raise EmailFormatError(
            f"--email-format {text!r} must give a name placeholder before @ and a domain after "
            f"it, e.g. {_EXAMPLE}"
        )
    return text


def work_email(
    format_: str, first: str | None, last: str | None, taken: Callable[[str], bool]
) -> WorkEmail:
    """The first free address the format gives for the name, numbered from 2 when taken."""
    first_part, last_part = fold(first or ""), fold(last or "")
    if not first_part and not last_part:
        raise EmailFormatError("the name has no letters to build a work email from")
    local, _, domain = format_.format(
        first=first_part, last=last_part, f=first_part[:1], l=last_part[:1]
    ).partition("@")
    local = re.sub(r"[._-]{2,}", lambda m: m.group(0)[0], local).strip("._-")
    wanted = f"{local}@{domain}".lower()
    if not taken(wanted):
        return WorkEmail(wanted)
    for number in range(2, _MAX_NUMBER + 1):
        candidate = f"{local}{number}@{domain}".lower()
        if not taken(candidate):
            return WorkEmail(candidate, instead_of=wanted)
    raise EmailFormatError(f"every numbered form of {wanted} up to {_MAX_NUMBER} is taken")
