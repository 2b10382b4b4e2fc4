"""The hiring side of one simulated Lever account: postings, archive reasons, stages, and the
opportunities (each with its contact, application and offers), and the changes that make Lever
fire webhooks; callers hold the simulator's lock."""

from __future__ import annotations

import random
from bisect import bisect_left, insort
from collections.abc import Iterator, Mapping
from itertools import islice
from typing import Any, Protocol

from connector.lever.sim.data import ANCHOR_MS, DAY_MS, seeded_uuid
from connector.lever.sim.hiring_data import (
    HIRED,
    Obj,
    application_record,
    blank_posting,
    contact_record,
    email_for,
    opportunity_record,
    pick_user,
    seed_archive_reasons,
    seed_person,
    seed_postings,
    seed_stages,
)
from connector.lever.sim.paging import Key
from connector.lever.sim.responses import not_found
from connector.lever.sim.state import UserStore

Events = list[tuple[str, Obj]]


class HiringStore:
    """Every posting, reason, stage, opportunity, contact, application and offer."""

    def __init__(self, users: UserStore, candidates: int, seed: int) -> None:
        self.users = users
        self._rng = random.Random(f"lever-sim-hiring-{seed}")
        self.reasons: list[Obj] = seed_archive_reasons()
        self.stages: list[Obj] = seed_stages()
        self.postings: dict[str, Obj] = {p["id"]: p for p in seed_postings(self.active_ids())}
        self.opportunities: dict[str, Obj] = {}
        self.contacts: dict[str, Obj] = {}
        self.applications: dict[str, Obj] = {}
        self.offers: dict[str, list[Obj]] = {}
        self.keys: list[Key] = []
        self._last_ms = 0
        self._seed_emails: set[str] = set()
        for _ in range(candidates):
            self._seed_candidate()

    # -- reading ------------------------------------------------------------------------------

    def active_ids(self, count: int = 12) -> list[str]:
        """The first active users' ids in list order, for picking people deterministically."""
        return [uid for _, uid in islice(self.users.listing(False), count)]

    def require(self, oid: str) -> Obj:
        """The stored opportunity (not a copy), or Lever's 404."""
        opportunity = self.opportunities.get(oid)
        if opportunity is None:
            raise not_found(f"Opportunity {oid} not found")
        return opportunity

    def reason(self, ref: str) -> Obj:
        """An archive reason by id or text (case-insensitive); ValueError when there is none."""
        return _find(self.reasons, ref, "archive reason")

    def stage(self, ref: str) -> Obj:
        """A stage by id or text (case-insensitive); ValueError when there is none."""
        return _find(self.stages, ref, "stage")

    def stage_index(self, stage_id: str) -> int:
        """Where a stage sits in the pipeline."""
        return next(i for i, s in enumerate(self.stages) if s["id"] == stage_id)

    def hired_reason_ids(self) -> set[str]:
        """The ids of the reasons of type hired."""
        return {r["id"] for r in self.reasons if r["type"] == "hired"}

    def first_application(self, opportunity: Obj) -> Obj | None:
        """The opportunity's first application, if any."""
        ids = opportunity["applications"]
        return self.applications[ids[0]] if ids else None

    def posting_of(self, opportunity: Obj) -> Obj | None:
        """The posting the candidate applied to, if any (and still stored)."""
        application = self.first_application(opportunity)
        return self.postings.get(application["posting"] or "") if application else None

    def ordered(self) -> Iterator[Obj]:
        """Every opportunity in list order: createdAt, then id."""
        return (self.opportunities[oid] for _, oid in self.keys)

    def now_ms(self) -> int:
        """The wall-clock time in Lever's milliseconds."""
        return self.users.now_ms()

    def tick(self) -> int:
        """A creation time: now, but always after the previous one, so adding keeps order."""
        self._last_ms = max(self.now_ms(), self._last_ms + 1)
        return self._last_ms

    def new_id(self) -> str:
        """A fresh id, repeating with the simulator's seed."""
        return seeded_uuid(self._rng)

    # -- adding -------------------------------------------------------------------------------

    def add_posting(self, fields: Mapping[str, Any]) -> Obj:
        """A posting with defaults for whatever is not given (categories merged key by key)."""
        pid = fields.get("id") or self.new_id()
        posting = blank_posting(pid, self.tick())
        people = self.active_ids()
        n = len(self.postings)
        posting.update(user=pick_user(people, 2 * n), owner=pick_user(people, 2 * n),
                       hiringManager=pick_user(people, 2 * n + 1))  # fmt: skip
        categories = {**posting["categories"], **fields.get("categories", {})}
        posting.update(fields, categories=categories)
        self.postings[pid] = posting
        return posting

    def add_candidate(
        self,
        name: str,
        email: str | None,
        posting_id: str | None,
        confidential: bool,
        phone: str | None,
        location: str | None,
        created: int | None = None,
    ) -> tuple[Obj, Events]:
        """A new opportunity in "New applicant", with its contact and application."""
        posting = self._posting_for(posting_id)
        created = self.tick() if created is None else created
        oid, cid = self.new_id(), self.new_id()
        email = email or email_for(name, f"candidate.{cid[:8]}")
        phones = [{"type": "mobile", "value": phone}] if phone else []
        self.contacts[cid] = contact_record(cid, name, location, [email], phones)
        app = self._application(oid, cid, posting, created, name, email, phones)
        opportunity = opportunity_record(oid, self.contacts[cid], posting, created, confidential)
        opportunity["applications"] = [app["id"]]
        self.opportunities[oid] = opportunity
        insort(self.keys, (created, oid))
        self._move(opportunity, self.stage("New applicant"), created, None)
        return opportunity, [("applicationCreated", self.event_data(opportunity))]

    def _posting_for(self, posting_id: str | None) -> Obj | None:
        """The posting a candidate applies to (none given: none); ValueError when unknown."""
        if posting_id is not None and posting_id not in self.postings:
            raise ValueError(f"no posting {posting_id!r}")
        return self.postings[posting_id] if posting_id is not None else None

    def _application(
        self,
        oid: str,
        cid: str,
        posting: Obj | None,
        created: int,
        name: str,
        email: str,
        phones: list[Obj],
    ) -> Obj:
        """Store and return the application of a new opportunity."""
        app = application_record(self.new_id(), oid, cid, posting, created)
        app.update(name=name, email=email, phone=phones[0] if phones else None)
        self.applications[app["id"]] = app
        return app

    def _seed_candidate(self) -> None:
        """One seeded opportunity: applied in the last half year, some archived, none hired."""
        rng = self._rng
        name, headline, phone = seed_person(rng)
        posting = rng.choice(list(self.postings.values()))
        created = rng.randint(ANCHOR_MS - 180 * DAY_MS, ANCHOR_MS - 30 * DAY_MS)
        email = self._unique_email(email_for(name, "candidate"))
        location = posting["categories"]["location"]
        opportunity, _ = self.add_candidate(
            name, email, posting["id"], rng.random() < 0.1, phone, location, created
        )
        opportunity["headline"] = self.contacts[opportunity["contact"]]["headline"] = headline
        advanced = created + rng.randint(1, 20) * DAY_MS
        stage = self.stages[rng.randrange(1, 6)]
        if stage["id"] != opportunity["stage"]:
            self._move(opportunity, stage, advanced, opportunity["owner"])
        if rng.random() < 0.3:
            reason = rng.choice([r for r in self.reasons if r["type"] != "hired"])
            archived = {"reason": reason["id"], "archivedAt": advanced + rng.randint(1, DAY_MS)}
            self._set_archived(opportunity, archived)

    def _unique_email(self, email: str) -> str:
        """A seeded address no other seeded candidate has (a number added when taken)."""
        local, _, domain = email.partition("@")
        n = 1
        while email in self._seed_emails:
            n += 1
            email = f"{local}{n}@{domain}"
        self._seed_emails.add(email)
        return email

    # -- changing -----------------------------------------------------------------------------

    def _move(self, opportunity: Obj, stage: Obj, when: int, user: str | None) -> None:
        """Put an opportunity in a stage, recording the change."""
        change = {"toStageId": stage["id"], "toStageIndex": self.stage_index(stage["id"]),
                  "updatedAt": when, "userId": user}  # fmt: skip
        opportunity["stageChanges"].append(change)
        opportunity.update(stage=stage["id"], lastAdvancedAt=when)
        _touch(opportunity, when)

    def _set_archived(self, opportunity: Obj, archived: Obj | None) -> None:
        """Archive or unarchive an opportunity."""
        opportunity["archived"] = archived
        _touch(opportunity, archived["archivedAt"] if archived else self.now_ms())

    def change_stage(self, oid: str, ref: str, when: int | None = None) -> Events:
        """Move an opportunity to another stage (none: nothing happens)."""
        opportunity, stage = self.require(oid), self.stage(ref)
        before = opportunity["stage"]
        if before == stage["id"]:
            return []
        self._move(opportunity, stage, self.now_ms() if when is None else when, None)
        data = {**self.event_data(opportunity), "fromStageId": before, "toStageId": stage["id"]}
        return [("candidateStageChange", data)]

    def archive(self, oid: str, ref: str, when: int | None = None) -> Events:
        """Archive with a reason (hired reasons also fire candidateHired); same reason: nothing."""
        opportunity, reason = self.require(oid), self.reason(ref)
        before = opportunity["archived"]
        if before is not None and before["reason"] == reason["id"]:
            return []
        stamp = self.now_ms() if when is None else when
        self._set_archived(opportunity, {"reason": reason["id"], "archivedAt": stamp})
        events = [self._archive_event(opportunity, before)]
        if reason["type"] == "hired":
            events.append(("candidateHired", self.event_data(opportunity)))
        return events

    def unarchive(self, oid: str) -> Events:
        """Bring an archived opportunity back (not archived: nothing happens)."""
        opportunity = self.require(oid)
        before = opportunity["archived"]
        if before is None:
            return []
        self._set_archived(opportunity, None)
        return [self._archive_event(opportunity, before)]

    def hire(self, oid: str, when: int | None) -> Events:
        """Move to "Offer" (no event of its own) and archive as Hired."""
        opportunity, offer = self.require(oid), self.stage("Offer")
        when = self.now_ms() if when is None else when
        if opportunity["stage"] != offer["id"]:
            self._move(opportunity, offer, when, opportunity["owner"])
        return self.archive(oid, HIRED, when)

    def delete(self, oid: str) -> Events:
        """Remove an opportunity with its contact, applications and offers."""
        opportunity = self.require(oid)
        data = {**self.event_data(opportunity), "deletedBy": None}
        del self.opportunities[oid]
        del self.keys[bisect_left(self.keys, (opportunity["createdAt"], oid))]
        for app_id in opportunity["applications"]:
            self.applications.pop(app_id, None)
        self.contacts.pop(opportunity["contact"], None)
        self.offers.pop(oid, None)
        return [("candidateDeleted", data)]

    def _archive_event(self, opportunity: Obj, before: Obj | None) -> tuple[str, Obj]:
        """candidateArchiveChange, from the old archived state to the current one."""
        after = opportunity["archived"]
        data = {**self.event_data(opportunity), "fromArchived": _archived_view(before),
                "toArchived": _archived_view(after)}  # fmt: skip
        return "candidateArchiveChange", data

    def event_data(self, opportunity: Obj) -> Obj:
        """The `data` every webhook about an opportunity carries."""
        application = self.first_application(opportunity)
        return {
            "candidateId": opportunity["contact"], "contactId": opportunity["contact"],
            "opportunityId": opportunity["id"],
            "applicationId": application["id"] if application else None,
            "postingId": application["posting"] if application else None,
        }  # fmt: skip


class HiringAccount(Protocol):
    """What a hiring endpoint acts on: the account's hiring side and its users."""

    hiring: HiringStore
    store: UserStore


def _find(items: list[Obj], ref: str, what: str) -> Obj:
    """An item by id, or else by text compared case-insensitively."""
    for item in items:
        if item["id"] == ref or item["text"].casefold() == ref.casefold():
            return item
    raise ValueError(f"no {what} {ref!r}")


def _touch(opportunity: Obj, when: int) -> None:
    """Note a change: updatedAt and lastInteractionAt never go back."""
    latest = max(opportunity["updatedAt"], when)
    opportunity.update(updatedAt=latest, lastInteractionAt=latest)


def _archived_view(archived: Obj | None) -> Obj | None:
    """An archived state as webhooks show it: {archivedAt, reason}."""
    return (
        {"archivedAt": archived["archivedAt"], "reason": archived["reason"]} if archived else None
    )
