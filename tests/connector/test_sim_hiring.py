"""The simulator's hiring side over real loopback HTTP: postings, archive reasons, stages,
opportunities with their filters, expansions and offers, in Lever's shapes and envelope."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import quote, unquote

import pytest
import requests

from connector.lever.sim import ALL_SCOPES, ApiError, LeverSimulator, SimulatorServer
from tests.connector.conftest import FakeClock, walk_pages

DAY_MS = 86_400_000
OPPORTUNITY_KEYS = (
    "id", "name", "headline", "contact", "emails", "phones", "confidentiality", "location",
    "links", "archived", "tags", "sources", "stage", "stageChanges", "origin", "sourcedBy",
    "owner", "followers", "applications", "createdAt", "updatedAt", "lastInteractionAt",
    "lastAdvancedAt", "snoozedUntil", "urls", "isAnonymized", "dataProtection",
)  # fmt: skip
APPLICATION_KEYS = (
    "id", "opportunityId", "candidateId", "createdAt", "type", "posting", "postingHiringManager",
    "postingOwner", "user", "name", "email", "phone", "company", "links", "comments",
    "customQuestions", "archived", "requisitionForHire",
)  # fmt: skip
POSTING_KEYS = (
    "id", "text", "createdAt", "updatedAt", "user", "owner", "hiringManager", "confidentiality",
    "categories", "country", "state", "tags", "reqCode", "workplaceType", "urls",
)  # fmt: skip
OFFER_KEYS = (
    "id", "createdAt", "status", "creator", "fields", "signatures", "approved", "approvedAt",
    "sentAt", "sentDocument", "signedDocument",
)  # fmt: skip
ENDPOINTS = (
    "/opportunities", "/postings", "/archive_reasons", "/stages",
)  # fmt: skip


@pytest.fixture
def server(make_server: Callable[..., SimulatorServer]) -> SimulatorServer:
    """A 12-user simulator with 9 seeded candidates."""
    return make_server(users=12, seed=4, candidates=9)


def get(http: requests.Session, server: SimulatorServer, path: str, **params: Any) -> Any:
    """The JSON of a GET that must succeed."""
    response = http.get(f"{server.url}{path}", params=params, timeout=5)
    assert response.status_code == 200, response.text
    return response.json()


def walk(
    http: requests.Session, server: SimulatorServer, path: str, **params: Any
) -> tuple[list[dict[str, Any]], int]:
    """Follow `next` tokens to the end; all records and the page count."""
    return walk_pages(http, server.url, path, **params)


def ids(records: list[dict[str, Any]]) -> list[str]:
    """The ids of records, in order."""
    return [r["id"] for r in records]


def hired_reason(sim: LeverSimulator) -> str:
    """The id of the Hired archive reason."""
    return next(r["id"] for r in sim.archive_reasons if r["type"] == "hired")


# -- reference data ----------------------------------------------------------------------------


def test_archive_reasons_hired_and_non_hired(
    server: SimulatorServer, http: requests.Session
) -> None:
    body = get(http, server, "/archive_reasons")
    assert body["hasNext"] is False
    reasons = {r["text"]: r for r in body["data"]}
    assert set(reasons) == {"Hired", "Underqualified", "Withdrew", "Position filled",
                            "Offer declined"}  # fmt: skip
    assert all(set(r) == {"id", "text", "status", "type"} for r in reasons.values())
    assert [r["text"] for r in get(http, server, "/archive_reasons", type="hired")["data"]] == [
        "Hired"
    ]
    non_hired = get(http, server, "/archive_reasons", type="non-hired")["data"]
    assert len(non_hired) == 4 and {r["type"] for r in non_hired} == {"non-hired"}
    one = reasons["Withdrew"]
    assert get(http, server, f"/archive_reasons/{one['id']}") == {"data": one}
    response = http.get(f"{server.url}/archive_reasons", params={"type": "fired"}, timeout=5)
    assert response.status_code == 400 and response.json()["code"] == "BadRequestError"


def test_reason_and_stage_ids_are_stable_across_simulators() -> None:
    first, second = LeverSimulator(users=0, seed=1), LeverSimulator(users=3, seed=2)
    assert first.archive_reasons == second.archive_reasons
    assert first.stages == second.stages


def test_stages_in_pipeline_order(server: SimulatorServer, http: requests.Session) -> None:
    stages = get(http, server, "/stages")["data"]
    assert [s["text"] for s in stages] == [
        "New lead", "New applicant", "Recruiter screen", "Phone interview",
        "On-site interview", "Reference check", "Offer",
    ]  # fmt: skip
    assert all(set(s) == {"id", "text"} for s in stages)
    assert get(http, server, f"/stages/{stages[3]['id']}") == {"data": stages[3]}


def test_postings_shape_and_people(
    server: SimulatorServer, sim: LeverSimulator, http: requests.Session
) -> None:
    postings, _ = walk(http, server, "/postings")
    assert len(postings) == 6 and postings == sim.postings
    assert all(tuple(p) == POSTING_KEYS for p in postings)
    user_ids = {u["id"] for u in sim.users if u["deactivatedAt"] is None}
    assert all({p["owner"], p["hiringManager"], p["user"]} <= user_ids for p in postings)
    locations = {p["categories"]["location"] for p in postings}
    assert {"Berlin", "São Paulo"} <= locations
    assert all(p["categories"]["allLocations"] == [p["categories"]["location"]] for p in postings)
    assert get(http, server, f"/postings/{postings[1]['id']}") == {"data": postings[1]}


def test_postings_page_and_without_users(
    make_server: Callable[..., SimulatorServer], http: requests.Session
) -> None:
    server = make_server(users=0, candidates=0)
    postings, pages = walk(http, server, "/postings", limit=2)
    assert pages == 3 and len(postings) == 6
    assert all(p["owner"] is None and p["hiringManager"] is None for p in postings)


def test_add_posting_merges_categories(sim: LeverSimulator) -> None:
    posting = sim.add_posting(text="Nurse", categories={"location": "Kraków"})
    assert tuple(posting) == POSTING_KEYS and posting["text"] == "Nurse"
    assert posting["categories"]["location"] == "Kraków"
    assert posting["categories"]["allLocations"] == [] and posting["state"] == "published"
    assert sim.postings[-1]["id"] == posting["id"]


# -- opportunities: shape and paging -----------------------------------------------------------


def test_opportunity_shape(server: SimulatorServer, http: requests.Session) -> None:
    records, _ = walk(http, server, "/opportunities", confidentiality="all")
    assert len(records) == 9
    assert all(tuple(r) == OPPORTUNITY_KEYS for r in records)
    for record in records:
        assert isinstance(record["contact"], str) and len(record["applications"]) == 1
        assert record["stageChanges"][-1]["toStageId"] == record["stage"]
        assert record["origin"] == "applied" and record["isAnonymized"] is False
        assert record["emails"][0].endswith("@mail.example")


def test_seeded_candidates_are_deterministic_and_none_hired(sim: LeverSimulator) -> None:
    again = LeverSimulator(users=12, seed=4, candidates=9)
    assert again.opportunities == sim.opportunities
    archived = [o for o in sim.opportunities if o["archived"]]
    assert archived and len(archived) < 9
    assert all(o["archived"]["reason"] != hired_reason(sim) for o in archived)


def test_paging_with_limit_two_sees_everyone_once_in_order(
    server: SimulatorServer, sim: LeverSimulator, http: requests.Session
) -> None:
    records, pages = walk(http, server, "/opportunities", confidentiality="all", limit=2)
    assert pages == 5
    expected = sorted(sim.opportunities, key=lambda o: (o["createdAt"], o["id"]))
    assert ids(records) == ids(expected)


@pytest.mark.parametrize(
    "transform", [unquote, lambda t: quote(t, safe="")], ids=["decoded-once", "encoded-again"]
)
def test_opportunity_tokens_in_other_encodings(
    server: SimulatorServer, http: requests.Session, transform: Callable[[str], str]
) -> None:
    params = {"confidentiality": "all", "limit": 2}
    first = get(http, server, "/opportunities", **params)
    whole = get(http, server, "/opportunities", confidentiality="all")
    second = get(http, server, "/opportunities", offset=transform(first["next"]), **params)
    assert second["data"] == whole["data"][2:4]


def test_malformed_offset_and_limit_are_400(
    server: SimulatorServer, http: requests.Session
) -> None:
    for params in ({"offset": "garbage"}, {"limit": 0}, {"limit": 101}):
        response = http.get(f"{server.url}/opportunities", params=params, timeout=5)
        assert response.status_code == 400 and response.json()["code"] == "BadRequestError"


# -- opportunities: filters --------------------------------------------------------------------


def test_confidential_hidden_by_default(
    server: SimulatorServer, sim: LeverSimulator, http: requests.Session
) -> None:
    secret = sim.add_candidate("Confidential Person", confidential=True)
    plain = sim.add_candidate("Plain Person")
    default, _ = walk(http, server, "/opportunities")
    assert plain["id"] in ids(default) and secret["id"] not in ids(default)
    everything, _ = walk(http, server, "/opportunities", confidentiality="all")
    assert {plain["id"], secret["id"]} <= set(ids(everything))
    only, _ = walk(http, server, "/opportunities", confidentiality="confidential")
    assert secret["id"] in ids(only) and plain["id"] not in ids(only)
    assert {o["confidentiality"] for o in only} == {"confidential"}
    assert len(default) + len(only) == len(everything)
    bad = http.get(f"{server.url}/opportunities", params={"confidentiality": "x"}, timeout=5)
    assert bad.status_code == 400


def test_archived_at_window_finds_hires(
    server: SimulatorServer, sim: LeverSimulator, http: requests.Session
) -> None:
    now = max(o["updatedAt"] for o in sim.opportunities) + DAY_MS
    early, late, other = (sim.add_candidate(n)["id"] for n in ("Early Hire", "Late Hire", "Gone"))
    sim.hire(early, at_ms=now)
    sim.hire(late, at_ms=now + 1000)
    sim.archive(other, "Withdrew")
    hired = hired_reason(sim)
    params = {"archived_at_start": now, "archive_reason_id": hired, "confidentiality": "all"}
    assert ids(walk(http, server, "/opportunities", **params)[0]) == [early, late]
    window = {**params, "archived_at_end": now + 1000}
    assert ids(walk(http, server, "/opportunities", **window)[0]) == [early]
    start = {"archived_at_start": now + 1}
    assert ids(walk(http, server, "/opportunities", **start)[0]) == [late, other]


def test_archive_reason_id_is_repeatable(
    server: SimulatorServer, sim: LeverSimulator, http: requests.Session
) -> None:
    reasons = {r["text"]: r["id"] for r in sim.archive_reasons}
    a, b, c = (sim.add_candidate(n)["id"] for n in ("A Person", "B Person", "C Person"))
    sim.archive(a, "Withdrew")
    sim.archive(b, reasons["Underqualified"])
    sim.hire(c)
    wanted = [reasons["Withdrew"], reasons["Hired"]]
    records, _ = walk(http, server, "/opportunities", archive_reason_id=wanted)
    seeded = {o["id"] for o in sim.opportunities if o["confidentiality"] == "non-confidential"
              and o["archived"] and o["archived"]["reason"] in wanted}  # fmt: skip
    assert set(ids(records)) == seeded | {a, c}


def test_archived_true_and_false(
    server: SimulatorServer, sim: LeverSimulator, http: requests.Session
) -> None:
    archived, _ = walk(http, server, "/opportunities", archived="true", confidentiality="all")
    active, _ = walk(http, server, "/opportunities", archived="false", confidentiality="all")
    assert archived and active
    assert all(o["archived"] for o in archived) and not any(o["archived"] for o in active)
    assert len(archived) + len(active) == len(sim.opportunities)


@pytest.mark.parametrize(
    "param", ["archived_at_start", "archived_at_end", "updated_at_start", "created_at_end"]
)
def test_bad_milliseconds_are_400(
    server: SimulatorServer, http: requests.Session, param: str
) -> None:
    response = http.get(f"{server.url}/opportunities", params={param: "2026-01-01"}, timeout=5)
    assert response.status_code == 400
    assert response.json() == {
        "code": "BadRequestError",
        "message": f"Invalid {param}: expected milliseconds since the epoch",
    }


def test_email_stage_posting_and_time_filters(
    server: SimulatorServer, sim: LeverSimulator, http: requests.Session
) -> None:
    posting = sim.add_posting(text="Welder")
    person = sim.add_candidate("Ana Silva", "Ana.Silva@Example.com", posting_id=posting["id"])
    sim.change_stage(person["id"], "Phone interview")
    phone = next(s["id"] for s in sim.stages if s["text"] == "Phone interview")
    by_email = walk(http, server, "/opportunities", email="ana.silva@EXAMPLE.com")[0]
    assert ids(by_email) == [person["id"]]
    assert ids(walk(http, server, "/opportunities", posting_id=posting["id"])[0]) == [person["id"]]
    staged, _ = walk(http, server, "/opportunities", stage_id=phone, confidentiality="all")
    assert person["id"] in ids(staged) and {o["stage"] for o in staged} == {phone}
    created = {"created_at_start": person["createdAt"], "confidentiality": "all"}
    assert ids(walk(http, server, "/opportunities", **created)[0]) == [person["id"]]
    before = {"created_at_end": person["createdAt"], "confidentiality": "all"}
    assert person["id"] not in ids(walk(http, server, "/opportunities", **before)[0])
    updated = sim.get_opportunity(person["id"])
    assert updated is not None
    changed = {"updated_at_start": updated["updatedAt"], "confidentiality": "all"}
    assert person["id"] in ids(walk(http, server, "/opportunities", **changed)[0])


# -- opportunities: expand, one, offers, applications ------------------------------------------


@pytest.mark.parametrize("param", ["expand", "expand[]"])
def test_expand_contact_applications_owner_stage(
    server: SimulatorServer, sim: LeverSimulator, http: requests.Session, param: str
) -> None:
    posting = sim.postings[0]
    person = sim.add_candidate("Søren Ærø", posting_id=posting["id"], phone="+45 1234",
                               location="Aarhus")  # fmt: skip
    expand = ["contact", "applications", "owner", "stage", "nonsense"]
    record = get(http, server, f"/opportunities/{person['id']}", **{param: expand})["data"]
    assert record["contact"] == {
        "id": person["contact"], "name": "Søren Ærø", "headline": "", "isAnonymized": False,
        "location": {"name": "Aarhus"}, "emails": ["soren.aero@mail.example"],
        "phones": [{"type": "mobile", "value": "+45 1234"}],
    }  # fmt: skip
    (application,) = record["applications"]
    assert tuple(application) == APPLICATION_KEYS
    assert application["opportunityId"] == person["id"] and application["type"] == "posting"
    assert application["posting"] == posting["id"]
    assert application["postingHiringManager"] == posting["hiringManager"]
    assert record["owner"] == sim.get_user(posting["owner"])
    assert record["stage"] == {"id": person["stage"], "text": "New applicant"}
    plain = get(http, server, f"/opportunities/{person['id']}")["data"]
    assert plain == person


def test_expanded_applications_are_archived_like_their_opportunity(
    server: SimulatorServer, sim: LeverSimulator, http: requests.Session
) -> None:
    person = sim.hire(sim.add_candidate("Hired Person", posting_id=sim.postings[2]["id"])["id"])
    apps = get(http, server, f"/opportunities/{person['id']}/applications")
    assert apps["hasNext"] is False
    assert [a["archived"] for a in apps["data"]] == [person["archived"]]
    assert ids(apps["data"]) == person["applications"]


def test_include_projects_fields(server: SimulatorServer, http: requests.Session) -> None:
    data = get(http, server, "/opportunities", include=["name", "stage"])["data"]
    assert data and all(set(o) == {"id", "name", "stage"} for o in data)


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/opportunities/nope", "Opportunity nope not found"),
        ("/opportunities/nope/offers", "Opportunity nope not found"),
        ("/opportunities/nope/applications", "Opportunity nope not found"),
        ("/postings/nope", "Posting nope not found"),
        ("/archive_reasons/nope", "Archive reason nope not found"),
        ("/stages/nope", "Stage nope not found"),
    ],
)
def test_unknown_objects_are_404(
    server: SimulatorServer, http: requests.Session, path: str, message: str
) -> None:
    response = http.get(f"{server.url}{path}", timeout=5)
    assert response.status_code == 404
    assert response.json() == {"code": "ResourceNotFound", "message": message}


def test_deleted_candidate_is_404_and_gone_from_the_list(
    server: SimulatorServer, sim: LeverSimulator, http: requests.Session
) -> None:
    person = sim.add_candidate("Short Lived")
    sim.add_offer(person["id"])
    sim.delete_candidate(person["id"])
    for path in ("", "/offers", "/applications"):
        response = http.get(f"{server.url}/opportunities/{person['id']}{path}", timeout=5)
        assert response.status_code == 404 and response.json()["code"] == "ResourceNotFound"
    assert person["id"] not in ids(walk(http, server, "/opportunities")[0])
    assert sim.get_opportunity(person["id"]) is None
    with pytest.raises(ApiError):
        sim.hire(person["id"])


def test_signed_offer_fields_by_identifier(
    server: SimulatorServer, sim: LeverSimulator, http: requests.Session
) -> None:
    posting = sim.postings[0]
    person = sim.add_candidate("Zoë Müller", posting_id=posting["id"])
    manager = sim.users[3]["id"]
    offer = sim.add_offer(person["id"], start_date=date(2027, 2, 1), direct_manager=manager,
                          fields={"salary_amount": 91_000, "signing_bonus": 5000})  # fmt: skip
    body = get(http, server, f"/opportunities/{person['id']}/offers")
    assert body["hasNext"] is False and body["data"] == [offer]
    assert tuple(offer) == OFFER_KEYS and offer["status"] == "signed"
    fields = {f["identifier"]: f["value"] for f in offer["fields"]}
    assert fields == {
        "candidate_name": "Zoë Müller",
        "anticipated_start_date": int(datetime(2027, 2, 1, tzinfo=UTC).timestamp() * 1000),
        "job_title": "Backend Engineer", "hiring_manager": posting["hiringManager"],
        "direct_manager": manager, "salary_amount": 91_000, "salary_currency": "EUR",
        "signing_bonus": 5000,
    }  # fmt: skip
    candidate = offer["signatures"]["candidate"]
    assert candidate["signed"] is True and candidate["signedAt"] >= offer["createdAt"]
    assert candidate["email"] == "zoe.muller@mail.example" and candidate["role"] == "candidate"
    assert offer["approved"] is True and offer["signedDocument"] is not None


def test_offer_start_date_none_leaves_the_field_out(sim: LeverSimulator) -> None:
    person = sim.add_candidate("No Start")
    offer = sim.add_offer(person["id"], start_date=None, fields={"salary_currency": None})
    identifiers = {f["identifier"] for f in offer["fields"]}
    assert "anticipated_start_date" not in identifiers and "salary_currency" not in identifiers
    assert "job_title" not in identifiers  # no posting and no title given


def test_offer_start_date_spellings_and_default() -> None:
    now = datetime(2026, 12, 7, 15, 30, tzinfo=UTC)
    sim = LeverSimulator(users=2, wall_clock=lambda: now.timestamp())
    oid = sim.add_candidate("Some One")["id"]
    midnight = int(datetime(2027, 3, 1, tzinfo=UTC).timestamp() * 1000)

    def start(value: Any = ...) -> Any:
        offer = sim.add_offer(oid) if value is ... else sim.add_offer(oid, start_date=value)
        return {f["identifier"]: f["value"] for f in offer["fields"]}["anticipated_start_date"]

    assert start("2027-03-01") == start(date(2027, 3, 1)) == start(midnight) == midnight
    assert start() == int(datetime(2027, 1, 6, tzinfo=UTC).timestamp() * 1000)


def test_offers_newest_first_and_unsigned_statuses(
    server: SimulatorServer, sim: LeverSimulator, http: requests.Session
) -> None:
    oid = sim.add_candidate("Two Offers")["id"]
    draft = sim.add_offer(oid, status="draft")
    sent = sim.add_offer(oid, status="sent")
    listed = get(http, server, f"/opportunities/{oid}/offers")["data"]
    assert ids(listed) == [sent["id"], draft["id"]]
    assert draft["approved"] is False and draft["sentAt"] is None
    assert draft["signatures"]["candidate"]["signed"] is False
    assert sent["sentDocument"] is not None and sent["signedDocument"] is None
    with pytest.raises(ValueError, match="unknown offer status"):
        sim.add_offer(oid, status="accepted")


# -- changes made in Lever's UI ----------------------------------------------------------------


def test_hire_moves_to_offer_and_archives_as_hired(sim: LeverSimulator) -> None:
    person = sim.add_candidate("Grace Hopper")
    hired = sim.hire(person["id"], at_ms=person["createdAt"] + 5000)
    offer_stage = next(s for s in sim.stages if s["text"] == "Offer")
    assert hired["stage"] == offer_stage["id"]
    assert hired["stageChanges"][-1]["toStageIndex"] == 6
    at = person["createdAt"] + 5000
    assert hired["archived"] == {"reason": hired_reason(sim), "archivedAt": at}
    assert sim.unarchive(person["id"])["archived"] is None
    assert sim.archive(person["id"], "offer declined")["archived"]["reason"] != hired_reason(sim)


def test_change_stage_by_text_or_id_and_unknown_refs(sim: LeverSimulator) -> None:
    oid = sim.add_candidate("Stage Walker")["id"]
    screen = next(s["id"] for s in sim.stages if s["text"] == "Recruiter screen")
    assert sim.change_stage(oid, "recruiter SCREEN")["stage"] == screen
    assert sim.change_stage(oid, screen)["stage"] == screen
    with pytest.raises(ValueError, match="no stage"):
        sim.change_stage(oid, "Lunch")
    with pytest.raises(ValueError, match="no archive reason"):
        sim.archive(oid, "Bored")


def test_candidate_email_is_folded_from_the_name(sim: LeverSimulator) -> None:
    assert sim.add_candidate("Łukasz Wójcik")["emails"] == ["lukasz.wojcik@mail.example"]
    assert sim.add_candidate("Siobhán Ó Briain")["emails"] == ["siobhan.o.briain@mail.example"]
    fallback = sim.add_candidate("王芳")["emails"][0]
    assert fallback.startswith("candidate.") and fallback.endswith("@mail.example")
    assert sim.add_candidate("Given", "given@corp.example")["emails"] == ["given@corp.example"]
    with pytest.raises(ValueError, match="no posting"):
        sim.add_candidate("Lost", posting_id="nope")


# -- auth, scopes, rate limit, faults ----------------------------------------------------------


@pytest.mark.parametrize("path", ENDPOINTS)
def test_missing_key_is_401(server: SimulatorServer, path: str) -> None:
    response = requests.get(f"{server.url}{path}", timeout=5)
    assert response.status_code == 401
    assert response.json() == {"code": "UnauthorizedError", "message": "Invalid API key"}


@pytest.mark.parametrize(
    ("scope", "path"),
    [
        ("opportunities:read:admin", "/opportunities"),
        ("opportunities:read:admin", "/opportunities/{oid}"),
        ("opportunities:read:admin", "/opportunities/{oid}/applications"),
        ("offers:read:admin", "/opportunities/{oid}/offers"),
        ("postings:read:admin", "/postings"),
        ("archive_reasons:read:admin", "/archive_reasons"),
        ("stages:read:admin", "/stages"),
    ],
)
def test_removed_scope_is_403(
    server: SimulatorServer, sim: LeverSimulator, http: requests.Session, scope: str, path: str
) -> None:
    assert scope in ALL_SCOPES
    url = f"{server.url}{path.format(oid=sim.opportunities[0]['id'])}"
    assert http.get(url, timeout=5).status_code == 200
    sim.permissions.discard(scope)
    response = http.get(url, timeout=5)
    assert response.status_code == 403 and response.json()["code"] == "ForbiddenError"
    assert http.get(f"{server.url}/users", timeout=5).status_code == 200


def test_rate_limit_is_shared_with_users(
    make_server: Callable[..., SimulatorServer], http: requests.Session, clock: FakeClock
) -> None:
    server = make_server(
        users=12, seed=4, candidates=9, rate_limit=True, clock=clock.monotonic, burst=3
    )
    paths = ["/users", "/opportunities", "/postings", "/stages"]
    statuses = [http.get(f"{server.url}{p}", timeout=5).status_code for p in paths]
    assert statuses == [200, 200, 200, 429]


def test_faults_hit_hiring_paths(
    server: SimulatorServer, sim: LeverSimulator, http: requests.Session
) -> None:
    sim.inject("503", path_prefix="/v1/opportunities")
    assert http.get(f"{server.url}/postings", timeout=5).status_code == 200
    assert http.get(f"{server.url}/opportunities", timeout=5).status_code == 503
    assert http.get(f"{server.url}/opportunities", timeout=5).status_code == 200
    assert sim.counts["list_opportunities"] == 1 and sim.counts["list_postings"] == 1


def test_writes_to_hiring_paths_are_405(server: SimulatorServer, http: requests.Session) -> None:
    response = http.post(f"{server.url}/opportunities", json={}, timeout=5)
    assert response.status_code == 405 and response.json()["code"] == "MethodNotAllowedError"
