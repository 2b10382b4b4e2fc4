"""Deterministic, realistic Lever users for the local simulator: same seed, same people."""

from __future__ import annotations

import random
import unicodedata
from bisect import bisect
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import accumulate
from typing import Any

__all__ = [
    "ANCHOR_MS",
    "BUILTIN_ROLES",
    "USER_FIELDS",
    "blank_user",
    "generate_users",
    "seeded_uuid",
    "username_for",
]

# A fixed "today" so that a seed always yields the same timestamps (2026-06-01T00:00:00Z).
ANCHOR_MS = 1_780_272_000_000
DAY_MS = 86_400_000
YEAR_MS = 365 * DAY_MS

USER_FIELDS: tuple[str, ...] = (
    "id",
    "name",
    "username",
    "email",
    "accessRole",
    "photo",
    "createdAt",
    "deactivatedAt",
    "externalDirectoryId",
    "linkedContactIds",
    "jobTitle",
    "managerId",
    "lastLoggedInAt",
)

# fmt: off
BUILTIN_ROLES = ("super admin", "admin", "team member", "limited team member", "interviewer")
_ROLES = ("interviewer", "team member", "limited team member", "admin", "custom")
_ROLE_WEIGHTS = (46, 34, 11, 6, 3)
_CUSTOM_ROLES = ("Recruiting Coordinator", "Agency Recruiter", "Hiring Manager Plus")

_JOB_TITLES = (
    "Software Engineer", "Senior Software Engineer", "Engineering Manager", "Recruiter",
    "Senior Recruiter", "Talent Partner", "Sourcer", "Product Manager", "Designer",
    "Data Scientist", "Sales Director", "Account Executive", "HR Business Partner",
    "People Operations Specialist", "Head of Talent", "Office Manager", "CFO",
    "Customer Success Manager", "Staff Engineer", "Marketing Lead",
)

_DOMAINS = ("example.com", "example.com", "example.com", "example.com", "eu.example.com",
            "example.org", "contractors.example.net")


@dataclass(frozen=True)
class _Culture:
    """A naming tradition: given names, family names, and how they combine."""

    given: tuple[str, ...]
    family: tuple[str, ...]
    family_first: bool = False
    joiner: str = " "
    romanised: tuple[tuple[str, str], ...] = ()


_CULTURES: tuple[_Culture, ...] = (
    _Culture(
        ("James", "Emily", "Michael", "Sarah", "David", "Jessica", "Chris", "Ashley", "Daniel",
         "Olivia", "Ethan", "Grace", "Noah", "Hannah", "Liam", "Chloe"),
        ("Smith", "Johnson", "Brown", "Taylor", "Miller", "Wilson", "Moore", "Anderson",
         "Thomas", "Jackson", "White", "Harris", "Martin", "Thompson", "O'Connor", "Clarke"),
    ),
    _Culture(
        ("José", "María", "Ana", "Javier", "Lucía", "Sofía", "Andrés", "Inés", "Raúl", "Elena",
         "Ángel", "Nuria", "Joaquín", "Begoña"),
        ("Álvarez", "García", "Fernández", "Silva", "Martínez", "López", "Muñoz", "Pérez",
         "Sánchez", "Gómez", "Ibáñez", "de la Fuente", "Núñez"),
    ),
    _Culture(
        ("Zoë", "Jürgen", "Lena", "Matthias", "Anneliese", "Björn", "Käthe", "Lukas", "Greta",
         "Felix", "Jörg"),
        ("Müller", "Schäfer", "Weiß", "Schmidt", "Becker", "Groß", "Köhler", "Hoffmann",
         "Krüger", "Bauer"),
    ),
    _Culture(
        ("Łukasz", "Małgorzata", "Piotr", "Agnieszka", "Paweł", "Katarzyna", "Michał", "Zofia"),
        ("Wójcik", "Kowalski", "Nowak", "Wiśniewska", "Dąbrowski", "Zieliński", "Łęcka"),
    ),
    _Culture(
        ("Søren", "Astrid", "Mads", "Freja", "Ólafur", "Sigríður", "Björk", "Ingrid", "Håkon"),
        ("Ærø", "Jensen", "Nielsen", "Sørensen", "Guðmundsdóttir", "Jónsson", "Haugen",
         "Lindqvist"),
    ),
    _Culture(
        ("Siobhán", "Aoife", "Seán", "Niamh", "Pádraig", "Caoimhe", "Eoin"),
        ("Ó Briain", "Murphy", "Ní Mhurchú", "Kelly", "Mac Giolla", "Byrne"),
    ),
    _Culture(
        ("芳", "伟", "娜", "敏", "静", "磊", "洋", "婷"),
        ("王", "李", "张", "刘", "陈", "杨", "赵", "黄"),
        family_first=True,
        joiner="",
        romanised=(("芳", "fang"), ("伟", "wei"), ("娜", "na"), ("敏", "min"), ("静", "jing"),
                   ("磊", "lei"), ("洋", "yang"), ("婷", "ting"), ("王", "wang"), ("李", "li"),
                   ("张", "zhang"), ("刘", "liu"), ("陈", "chen"), ("杨", "yang"),
                   ("赵", "zhao"), ("黄", "huang")),
    ),
    _Culture(
        ("Văn An", "Thị Mai", "Minh Tuấn", "Thu Hà", "Quang Huy", "Ngọc Lan"),
        ("Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Đặng"),
        family_first=True,
    ),
    _Culture(
        ("Priya", "Arjun", "Ananya", "Rahul", "Kavya", "Vikram", "Sneha", "Rohan"),
        ("Sharma", "Patel", "Iyer", "Reddy", "Gupta", "Nair", "Chatterjee"),
    ),
    _Culture(
        ("Yuki", "Haruto", "Aiko", "Kenji", "Sakura", "Takumi"),
        ("Satō", "Suzuki", "Takahashi", "Tanaka", "Itō", "Watanabe"),
    ),
    _Culture(
        ("Olumide", "Chiamaka", "Kwame", "Amara", "Tunde", "Ngozi", "Kofi"),
        ("Okafor", "Adeyemi", "Mensah", "Nwosu", "Abubakar", "Boateng"),
    ),
    _Culture(
        ("João", "Beatriz", "Gonçalo", "Mariana", "Tomás", "Conceição"),
        ("Conceição", "Gonçalves", "Araújo", "Simões", "Magalhães", "Brandão"),
    ),
)
_CULTURE_WEIGHTS = (30, 12, 9, 6, 6, 5, 8, 5, 8, 4, 4, 3)

# Letters that Unicode decomposition does not reduce to ASCII.
_FOLD = str.maketrans({"ł": "l", "Ł": "L", "ø": "o", "Ø": "O", "æ": "ae", "Æ": "Ae",
                       "ß": "ss", "đ": "d", "Đ": "D", "ð": "d", "Ð": "D", "þ": "th", "'": ""})

# fmt: on

# Version 4 and RFC 4122 variant bits, as uuid.UUID(int=..., version=4) sets them.
_UUID_CLEAR = ~((0xF000 << 64) | (0xC000 << 48))
_UUID_SET = (0x4000 << 64) | (0x8000 << 48)


def seeded_uuid(rng: random.Random) -> str:
    """A version-4 UUID drawn from the given generator, so ids repeat with the seed."""
    n = rng.getrandbits(128) & _UUID_CLEAR | _UUID_SET
    h = f"{n:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _weighted(items: Sequence[Any], weights: Sequence[int]) -> Callable[[random.Random], Any]:
    """A fast weighted chooser (random.choices rebuilds its table on every call)."""
    cumulative = list(accumulate(weights))
    total = cumulative[-1]
    return lambda rng: items[bisect(cumulative, rng.random() * total)]


def username_for(email: str) -> str:
    """Lever's username: the email's local part."""
    return email.split("@", 1)[0]


def blank_user() -> dict[str, Any]:
    """A user dict with every Lever key present and set to null."""
    return dict.fromkeys(USER_FIELDS)


def _ascii(text: str, romanised: dict[str, str]) -> str:
    """A lowercase ASCII rendering of a name part, for email addresses."""
    if text in romanised:
        return romanised[text]
    folded = unicodedata.normalize("NFKD", text.translate(_FOLD))
    return "".join(c for c in folded if c.isascii() and c.isalnum()).lower()


class _Generator:
    """Draws one population of users from a seeded generator."""

    def __init__(self, rng: random.Random, anchor_ms: int) -> None:
        self.rng = rng
        self.anchor_ms = anchor_ms
        self.emails: set[str] = set()
        self.suffixes: dict[str, int] = {}
        self.romanised = {k: v for c in _CULTURES for k, v in c.romanised}
        self.folded: dict[str, str] = {}
        self.culture = _weighted(_CULTURES, _CULTURE_WEIGHTS)
        self.base_role = _weighted(_ROLES, _ROLE_WEIGHTS)

    def ascii(self, text: str) -> str:
        """The cached ASCII form of a name part."""
        if text not in self.folded:
            self.folded[text] = _ascii(text, self.romanised)
        return self.folded[text]

    def person(self) -> tuple[str, str]:
        """A display name and the ASCII email local part that goes with it."""
        rng = self.rng
        culture: _Culture = self.culture(rng)
        given, family = rng.choice(culture.given), rng.choice(culture.family)
        g, f = self.ascii(given), self.ascii(family)
        if rng.random() < 0.02:
            return given, g
        name = f"{family}{culture.joiner}{given}" if culture.family_first else f"{given} {family}"
        return name, self.local_part(given, g, f)

    def local_part(self, given: str, g: str, f: str) -> str:
        """One of the common corporate address patterns."""
        pattern = self.rng.random()
        if pattern < 0.04:
            parts = [p.capitalize() for p in (g, f)]
            return ".".join(parts)
        if pattern < 0.70:
            return f"{g}.{f}"
        if pattern < 0.85:
            return f"{g[:1]}{f}"
        return f"{g}_{f}" if pattern < 0.95 else f"{f}.{g}"

    def email(self, local: str) -> str:
        """A unique address (case-insensitively) for the local part."""
        domain = self.rng.choice(_DOMAINS)
        if local[:1].isupper() and domain == "example.com":
            domain = "Example.com"
        base = f"{local}@{domain}".lower()
        n = self.suffixes.get(base, 1)
        candidate = f"{local}@{domain}" if n == 1 else f"{local}{n}@{domain}"
        while candidate.lower() in self.emails:
            n += 1
            candidate = f"{local}{n}@{domain}"
        self.suffixes[base] = n
        self.emails.add(candidate.lower())
        return candidate

    def role(self) -> str:
        """A weighted access role, occasionally a custom one."""
        role: str = self.base_role(self.rng)
        return self.rng.choice(_CUSTOM_ROLES) if role == "custom" else role

    def times(self) -> tuple[int, int | None, int | None]:
        """createdAt, deactivatedAt (about 12%) and lastLoggedInAt, all in milliseconds."""
        rng, anchor = self.rng, self.anchor_ms
        created = rng.randint(anchor - 5 * YEAR_MS, anchor - DAY_MS)
        deactivated = rng.randint(created + 1, anchor) if rng.random() < 0.12 else None
        end = deactivated or anchor
        login: int | None = None
        if rng.random() < 0.85:
            recent = rng.random() < 0.6 and end - created > 90 * DAY_MS
            login = rng.randint(end - 90 * DAY_MS if recent else created, end)
        return created, deactivated, login

    def optional(self, ids: Sequence[str]) -> dict[str, Any]:
        """The nullable extras: title, manager, directory id, contacts, photo."""
        rng = self.rng
        contacts: list[str] | None = None
        if rng.random() < 0.3:
            contacts = [seeded_uuid(rng) for _ in range(rng.randint(0, 2))]
        return {
            "jobTitle": rng.choice(_JOB_TITLES) if rng.random() < 0.75 else None,
            "managerId": rng.choice(ids) if rng.random() < 0.4 else None,
            "externalDirectoryId": f"00u{rng.getrandbits(64):016x}" if rng.random() < 0.3 else None,
            "linkedContactIds": contacts,
            "photo": f"https://avatars.example.com/{rng.getrandbits(64):016x}.png"
            if rng.random() < 0.5
            else None,
        }

    def user(self, user_id: str, ids: Sequence[str], role: str | None) -> dict[str, Any]:
        """One complete user in Lever's shape."""
        name, local = self.person()
        email = self.email(local)
        if self.rng.random() < 0.01:
            name = email
        created, deactivated, login = self.times()
        extras = self.optional(ids)
        if extras["managerId"] == user_id:
            extras["managerId"] = None
        user = blank_user()
        user.update(
            id=user_id, name=name, username=username_for(email), email=email,
            accessRole=role or self.role(), createdAt=created, deactivatedAt=deactivated,
            lastLoggedInAt=login, **extras,
        )  # fmt: skip
        return user


def _super_admins(rng: random.Random, count: int) -> set[int]:
    """Indexes of the one or two super admins."""
    if count == 0:
        return set()
    picks = {rng.randrange(count)}
    if count >= 20:
        picks.add(rng.randrange(count))
    return picks


def generate_users(
    count: int, seed: int = 0, anchor_ms: int = ANCHOR_MS, *, sort: bool = True
) -> list[dict[str, Any]]:
    """`count` realistic users, identical for identical arguments, sorted by (createdAt, id)."""
    rng = random.Random(seed)
    ids = [seeded_uuid(rng) for _ in range(count)]
    admins = _super_admins(rng, count)
    gen = _Generator(rng, anchor_ms)
    users = [
        gen.user(uid, ids, "super admin" if i in admins else None) for i, uid in enumerate(ids)
    ]
    if sort:
        users.sort(key=_created_key)
    return users


def _created_key(user: dict[str, Any]) -> tuple[int, str]:
    """Lever's list order: creation time, then id."""
    return user["createdAt"], user["id"]
