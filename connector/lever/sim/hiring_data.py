"""Deterministic hiring seed data for the simulator: archive reasons, stages, postings, and
candidates drawn from a seeded generator, in Lever's shapes with every key present."""

from __future__ import annotations

import random
import unicodedata
import uuid
from collections.abc import Sequence
from typing import Any

from connector.lever.sim.data import ANCHOR_MS, DAY_MS

__all__ = [
    "ARCHIVE_REASONS",
    "CANDIDATE_DOMAIN",
    "CURRENCIES",
    "HIRED",
    "STAGES",
    "application_record",
    "ascii_fold",
    "blank_posting",
    "contact_record",
    "email_for",
    "opportunity_record",
    "pick_user",
    "seed_archive_reasons",
    "seed_person",
    "seed_postings",
    "seed_stages",
    "stable_id",
]

HIRED = "Hired"
ARCHIVE_REASONS: tuple[tuple[str, str], ...] = (
    (HIRED, "hired"),
    ("Underqualified", "non-hired"),
    ("Withdrew", "non-hired"),
    ("Position filled", "non-hired"),
    ("Offer declined", "non-hired"),
)
STAGES = (
    "New lead",
    "New applicant",
    "Recruiter screen",
    "Phone interview",
    "On-site interview",
    "Reference check",
    "Offer",
)
Obj = dict[str, Any]
CANDIDATE_DOMAIN = "mail.example"
JOBS_URL = "https://jobs.lever.co/simulated"
HIRE_URL = "https://hire.lever.co/candidates"
_NAMESPACE = uuid.UUID("0b6f2d1e-7c4a-4f3b-8e21-5a9d3c7e1f40")

# fmt: off
# text, department, team, location, country, commitment, level, reqCode
_POSTINGS = (
    ("Backend Engineer", "Engineering", "Platform", "Berlin", "DE", "Full-time", "Senior",
     "ENG-101"),
    ("Product Designer", "Design", "Product Design", "Lisbon", "PT", "Full-time", None,
     "DES-204"),
    ("Account Executive", "Sales", "Enterprise", "New York", "US", "Full-time", "Mid",
     "SAL-310"),
    ("Recruiter", "People", "Talent Acquisition", "London", "GB", "Full-time", None, "PPL-412"),
    ("Data Scientist", "Engineering", "Data", "São Paulo", "BR", "Full-time", "Senior",
     "ENG-118"),
    ("Customer Success Manager", "Customer Success", "Support", "Zürich", "CH", "Part-time",
     None, "CS-507"),
)
CURRENCIES = {"DE": "EUR", "PT": "EUR", "US": "USD", "GB": "GBP", "BR": "BRL", "CH": "CHF"}

_GIVEN = ("José", "Zoë", "Łukasz", "Søren", "Siobhán", "Priya", "João", "Amara", "Emily",
          "Jürgen", "Inés", "Kenji", "Ólafur", "Chloe", "Raúl", "Małgorzata")
_FAMILY = ("Álvarez", "Müller", "Wójcik", "Ærø", "Ó Briain", "Sharma", "Gonçalves", "Okafor",
           "Clarke", "Schäfer", "Núñez", "Tanaka", "Jónsson", "O'Connor", "Weiß", "Nguyễn")
_HEADLINES = ("", "Software engineer at Initech", "Designer at Globex", "Sales lead at Umbrella",
              "Recruiter at Hooli", "Data analyst at Stark Industries")

# Letters that Unicode decomposition does not reduce to ASCII.
_FOLD = str.maketrans({"ł": "l", "Ł": "L", "ø": "o", "Ø": "O", "æ": "ae", "Æ": "Ae",
                       "ß": "ss", "đ": "d", "Đ": "D", "ð": "d", "Ð": "D", "þ": "th", "'": ""})
# fmt: on


def stable_id(kind: str, text: str) -> str:
    """An id that is the same in every simulator, for seeded reference data."""
    return str(uuid.uuid5(_NAMESPACE, f"{kind}:{text}"))


def seed_archive_reasons() -> list[dict[str, Any]]:
    """Lever's archive reasons: Hired (type hired) and the usual non-hired ones."""
    return [
        {"id": stable_id("reason", text), "text": text, "status": "active", "type": kind}
        for text, kind in ARCHIVE_REASONS
    ]


def seed_stages() -> list[dict[str, Any]]:
    """The default pipeline, in order."""
    return [{"id": stable_id("stage", text), "text": text} for text in STAGES]


def ascii_fold(text: str) -> str:
    """A lowercase ASCII rendering of a name for email addresses ("" for non-Latin scripts)."""
    folded = unicodedata.normalize("NFKD", text.translate(_FOLD))
    words = ("".join(c for c in w if c.isascii() and c.isalnum()) for w in folded.split())
    return ".".join(w for w in words if w).lower()


def email_for(name: str, fallback: str) -> str:
    """A personal address derived from a candidate's name (the fallback for non-Latin names)."""
    return f"{ascii_fold(name) or fallback}@{CANDIDATE_DOMAIN}"


def blank_posting(posting_id: str, created: int) -> dict[str, Any]:
    """A posting with every Lever key present, optional ones null."""
    return {
        "id": posting_id, "text": f"Posting {posting_id[:8]}", "createdAt": created,
        "updatedAt": created, "user": None, "owner": None, "hiringManager": None,
        "confidentiality": "non-confidential",
        "categories": {"team": None, "department": None, "location": None, "allLocations": [],
                       "commitment": None, "level": None},
        "country": None, "state": "published", "tags": [], "reqCode": None,
        "workplaceType": "hybrid",
        "urls": {"list": JOBS_URL, "show": f"{JOBS_URL}/{posting_id}",
                 "apply": f"{JOBS_URL}/{posting_id}/apply"},
    }  # fmt: skip


def pick_user(user_ids: Sequence[str], index: int) -> str | None:
    """A user chosen deterministically by position, or None when there are no users."""
    return user_ids[index % len(user_ids)] if user_ids else None


def seed_postings(user_ids: Sequence[str]) -> list[dict[str, Any]]:
    """The seeded postings, their people picked from the account's active users in list order."""
    postings = []
    for i, (text, dept, team, loc, country, commitment, level, req) in enumerate(_POSTINGS):
        posting = blank_posting(stable_id("posting", text), ANCHOR_MS - (400 - 30 * i) * DAY_MS)
        posting.update(
            text=text, user=pick_user(user_ids, 2 * i), owner=pick_user(user_ids, 2 * i),
            hiringManager=pick_user(user_ids, 2 * i + 1), country=country, reqCode=req,
            categories={"team": team, "department": dept, "location": loc,
                        "allLocations": [loc], "commitment": commitment, "level": level},
        )  # fmt: skip
        postings.append(posting)
    return postings


def seed_person(rng: random.Random) -> tuple[str, str, str]:
    """A candidate's name, headline and phone number."""
    name = f"{rng.choice(_GIVEN)} {rng.choice(_FAMILY)}"
    phone = f"+1 555 01{rng.randrange(100):02d} {rng.randrange(10_000):04d}"
    return name, rng.choice(_HEADLINES), phone


def contact_record(
    cid: str, name: str, location: str | None, emails: list[str], phones: list[Obj]
) -> Obj:
    """A contact (the person behind opportunities) in the shape `expand=contact` shows."""
    return {"id": cid, "name": name, "headline": "", "isAnonymized": False,
            "location": {"name": location} if location else None, "emails": emails,
            "phones": phones}  # fmt: skip


def application_record(aid: str, oid: str, cid: str, posting: Obj | None, created: int) -> Obj:
    """An application to a posting (or, without one, added by a user), every key present."""
    return {
        "id": aid, "opportunityId": oid, "candidateId": cid, "createdAt": created,
        "type": "posting" if posting else "user", "posting": posting and posting["id"],
        "postingHiringManager": posting and posting["hiringManager"],
        "postingOwner": posting and posting["owner"], "user": None, "name": None,
        "email": None, "phone": None, "company": None, "links": [], "comments": None,
        "customQuestions": [], "archived": None, "requisitionForHire": None,
    }  # fmt: skip


def opportunity_record(
    oid: str, contact: Obj, posting: Obj | None, created: int, confidential: bool
) -> Obj:
    """A new opportunity in Lever's shape, before its first stage change."""
    location = contact["location"]["name"] if contact["location"] else None
    return {
        "id": oid, "name": contact["name"], "headline": contact["headline"],
        "contact": contact["id"], "emails": list(contact["emails"]),
        "phones": [dict(p) for p in contact["phones"]],
        "confidentiality": "confidential" if confidential else "non-confidential",
        "location": location, "links": [], "archived": None, "tags": [], "sources": [],
        "stage": None, "stageChanges": [], "origin": "applied", "sourcedBy": None,
        "owner": posting and posting["owner"], "followers": [], "applications": [],
        "createdAt": created, "updatedAt": created, "lastInteractionAt": created,
        "lastAdvancedAt": created, "snoozedUntil": None,
        "urls": {"list": HIRE_URL, "show": f"{HIRE_URL}/{oid}"},
        "isAnonymized": False, "dataProtection": None,
    }  # fmt: skip
