"""The simulator's webhooks against a real receiver on loopback: body shape, signature, tokens,
retries with backoff, order, event selection and a clean stop."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from itertools import pairwise
from typing import Any

import pytest

from connector.lever.sim import WEBHOOK_EVENTS, LeverSimulator, SimulatorServer, sign

THREAD = "lever-sim-webhooks"


@dataclass
class Received:
    """One request the receiver got."""

    at: float
    headers: dict[str, str]
    body: dict[str, Any]


@dataclass
class Receiver:
    """A loopback HTTP server that records every POST and answers 500 to the first `fail`."""

    fail: int = 0
    got: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    url: str = ""

    def answer(self, headers: dict[str, str], body: bytes) -> int:
        """Record a request; the status to answer with."""
        with self.lock:
            self.got.append(Received(time.monotonic(), headers, json.loads(body)))
            return 500 if len(self.got) <= self.fail else 200

    @property
    def bodies(self) -> list[dict[str, Any]]:
        """The bodies received, in order."""
        with self.lock:
            return [r.body for r in self.got]


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    """A request handler class feeding one receiver."""

    class Handler(BaseHTTPRequestHandler):
        """Answers POSTs as the receiver says."""

        def do_POST(self) -> None:
            """Read the body, record it, answer."""
            body = self.rfile.read(int(self.headers["Content-Length"]))
            status = receiver.answer(dict(self.headers), body)
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            """Keep stderr quiet."""

    return Handler


@pytest.fixture
def make_receiver() -> Iterator[Callable[..., Receiver]]:
    """Start receivers on free loopback ports; all are shut down at teardown."""
    servers: list[tuple[ThreadingHTTPServer, threading.Thread]] = []

    def make(fail: int = 0) -> Receiver:
        receiver = Receiver(fail)
        server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(receiver))
        receiver.url = f"http://127.0.0.1:{server.server_address[1]}/lever"
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
        thread.start()
        servers.append((server, thread))
        return receiver

    yield make
    for server, thread in servers:
        server.shutdown()
        thread.join()
        server.server_close()


@pytest.fixture
def sim() -> Iterator[LeverSimulator]:
    """A small simulator with fast retries; its webhooks are stopped at teardown."""
    sim = LeverSimulator(users=5, seed=2, rate_limit=False, webhook_backoff=0.01)
    yield sim
    sim.stop_webhooks()


def delivered(sim: LeverSimulator) -> list[dict[str, Any]]:
    """The delivery log once everything queued was delivered or given up."""
    assert sim.wait_for_deliveries(timeout=10)
    return sim.deliveries


def webhook_threads() -> set[threading.Thread]:
    """The live delivery threads of every simulator in this process."""
    return {t for t in threading.enumerate() if t.name == THREAD and t.is_alive()}


# -- body and signature ------------------------------------------------------------------------


def test_hire_delivers_signed_archive_change_then_hired(
    sim: LeverSimulator, make_receiver: Callable[..., Receiver]
) -> None:
    receiver = make_receiver()
    posting = sim.postings[0]
    person = sim.add_candidate("Ada Lovelace", posting_id=posting["id"])
    secret = sim.set_webhook(receiver.url)
    before = int(time.time() * 1000)
    hired = sim.hire(person["id"])
    log = delivered(sim)
    assert [e["event"] for e in log] == ["candidateArchiveChange", "candidateHired"]
    assert all(e["status"] == 200 and e["error"] is None and e["attempt"] == 1 for e in log)
    archive_change, hire = receiver.bodies
    assert list(hire) == ["triggeredAt", "event", "signature", "token", "data"]
    assert hire["event"] == "candidateHired"
    assert before <= hire["triggeredAt"] <= int(time.time() * 1000)
    assert hire["signature"] == sign(secret, hire["token"], hire["triggeredAt"])
    assert hire["data"] == {
        "candidateId": person["contact"], "contactId": person["contact"],
        "opportunityId": person["id"], "applicationId": person["applications"][0],
        "postingId": posting["id"],
    }  # fmt: skip
    assert archive_change["data"]["fromArchived"] is None
    assert archive_change["data"]["toArchived"] == {
        "archivedAt": hired["archived"]["archivedAt"], "reason": hired["archived"]["reason"]
    }  # fmt: skip
    headers = receiver.got[1].headers
    assert headers["Content-Type"] == "application/json"
    assert headers["User-Agent"] == "Lever-Webhooks/1.0"


def test_the_signature_token_can_be_given(
    sim: LeverSimulator, make_receiver: Callable[..., Receiver]
) -> None:
    receiver = make_receiver()
    assert sim.set_webhook(receiver.url, signature_token="s3cret") == "s3cret"
    sim.add_candidate("Some One")
    delivered(sim)
    (body,) = receiver.bodies
    assert body["signature"] == sign("s3cret", body["token"], body["triggeredAt"])
    assert body["signature"] != sign("other", body["token"], body["triggeredAt"])


def test_every_event_carries_its_own_data(
    sim: LeverSimulator, make_receiver: Callable[..., Receiver]
) -> None:
    receiver = make_receiver()
    sim.set_webhook(receiver.url)
    person = sim.add_candidate("No Posting")
    screen = next(s["id"] for s in sim.stages if s["text"] == "Recruiter screen")
    sim.change_stage(person["id"], screen)
    archived = sim.archive(person["id"], "Withdrew")["archived"]
    sim.unarchive(person["id"])
    sim.delete_candidate(person["id"])
    delivered(sim)
    events = {b["event"]: b["data"] for b in receiver.bodies}
    assert [b["event"] for b in receiver.bodies] == [
        "applicationCreated", "candidateStageChange", "candidateArchiveChange",
        "candidateArchiveChange", "candidateDeleted",
    ]  # fmt: skip
    assert events["applicationCreated"]["postingId"] is None
    stage = events["candidateStageChange"]
    assert (stage["fromStageId"], stage["toStageId"]) == (person["stage"], screen)
    unarchive = receiver.bodies[3]["data"]
    assert (unarchive["fromArchived"], unarchive["toArchived"]) == (archived, None)
    assert events["candidateDeleted"]["deletedBy"] is None
    assert events["candidateDeleted"]["opportunityId"] == person["id"]


def test_unchanged_state_sends_nothing(
    sim: LeverSimulator, make_receiver: Callable[..., Receiver]
) -> None:
    oid = sim.add_candidate("Steady")["id"]
    receiver = make_receiver()
    sim.set_webhook(receiver.url)
    sim.unarchive(oid)
    sim.change_stage(oid, "New applicant")
    sim.hire(oid)
    sim.hire(oid)
    delivered(sim)
    assert [b["event"] for b in receiver.bodies] == ["candidateArchiveChange", "candidateHired"]


# -- tokens, retries and order -----------------------------------------------------------------


def test_tokens_unique_per_event_and_kept_across_retries(
    sim: LeverSimulator, make_receiver: Callable[..., Receiver]
) -> None:
    receiver = make_receiver(fail=2)
    sim.set_webhook(receiver.url)
    sim.add_candidate("First")
    sim.add_candidate("Second")
    log = delivered(sim)
    assert [(e["attempt"], e["status"]) for e in log] == [(1, 500), (2, 500), (3, 200), (1, 200)]
    assert log[0]["error"] == "HTTP 500" and log[2]["error"] is None
    bodies = receiver.bodies
    assert len(bodies) == 4
    assert bodies[0] == bodies[1] == bodies[2]
    assert bodies[2]["token"] != bodies[3]["token"]
    assert [e["token"] for e in log] == [b["token"] for b in bodies]


def test_always_failing_receiver_gets_exactly_five_tries(
    sim: LeverSimulator, make_receiver: Callable[..., Receiver]
) -> None:
    receiver = make_receiver(fail=1000)
    sim.set_webhook(receiver.url, events=["applicationCreated"])
    sim.add_candidate("Unlucky")
    log = delivered(sim)
    assert [e["attempt"] for e in log] == [1, 2, 3, 4, 5]
    assert {e["status"] for e in log} == {500}
    time.sleep(0.2)
    assert len(receiver.bodies) == 5


def test_retries_back_off_exponentially(make_receiver: Callable[..., Receiver]) -> None:
    receiver = make_receiver(fail=3)
    sim = LeverSimulator(users=1, webhook_backoff=0.05)
    try:
        sim.set_webhook(receiver.url)
        sim.add_candidate("Patient")
        delivered(sim)
    finally:
        sim.stop_webhooks()
    times = [r.at for r in receiver.got]
    gaps = [b - a for a, b in pairwise(times)]
    assert len(gaps) == 3
    assert all(gap >= 0.05 * 2**i * 0.9 for i, gap in enumerate(gaps))


def test_unreachable_receiver_is_logged_as_errors(sim: LeverSimulator) -> None:
    with ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler) as closed:
        port = closed.server_address[1]
    sim.set_webhook(f"http://127.0.0.1:{port}/gone")
    sim.add_candidate("Nobody Home")
    log = delivered(sim)
    assert len(log) == 5
    assert all(e["status"] is None and "ConnectionError" in e["error"] for e in log)


def test_order_is_kept_behind_a_retry(
    sim: LeverSimulator, make_receiver: Callable[..., Receiver]
) -> None:
    receiver = make_receiver(fail=2)
    sim.set_webhook(receiver.url)
    names = [f"Person {i}" for i in range(5)]
    people = [sim.add_candidate(name)["id"] for name in names]
    delivered(sim)
    firsts = [b["data"]["opportunityId"] for b in receiver.bodies[2:]]
    assert firsts == people


def test_one_failing_webhook_does_not_hold_up_another(
    make_receiver: Callable[..., Receiver],
) -> None:
    bad, good = make_receiver(fail=1000), make_receiver()
    sim = LeverSimulator(users=1, webhook_backoff=0.2)
    try:
        sim.set_webhook(bad.url)
        sim.set_webhook(good.url)
        sim.add_candidate("Shared")
        deadline = time.monotonic() + 2
        while not good.bodies and time.monotonic() < deadline:
            time.sleep(0.01)
        assert len(good.bodies) == 1 and len(bad.bodies) < 5
        assert good.bodies[0]["token"] != bad.bodies[0]["token"]
    finally:
        sim.stop_webhooks()


def test_webhooks_get_only_their_events(
    sim: LeverSimulator, make_receiver: Callable[..., Receiver]
) -> None:
    hires, everything = make_receiver(), make_receiver()
    sim.set_webhook(hires.url, events=["candidateHired"])
    sim.set_webhook(everything.url)
    sim.hire(sim.add_candidate("Chosen")["id"])
    delivered(sim)
    assert [b["event"] for b in hires.bodies] == ["candidateHired"]
    assert [b["event"] for b in everything.bodies] == [
        "applicationCreated", "candidateArchiveChange", "candidateHired",
    ]  # fmt: skip
    assert set(WEBHOOK_EVENTS) >= {b["event"] for b in everything.bodies}
    with pytest.raises(ValueError, match="unknown webhook events"):
        sim.set_webhook(hires.url, events=["candidateExploded"])


# -- threads -----------------------------------------------------------------------------------


def test_no_webhook_no_thread() -> None:
    before = webhook_threads()
    sim = LeverSimulator(users=3, candidates=4)
    sim.hire(sim.add_candidate("Quiet")["id"])
    assert webhook_threads() - before == set()
    assert sim.wait_for_deliveries(timeout=0) is True and sim.deliveries == []
    sim.stop_webhooks()


def test_stop_webhooks_drops_retries_and_leaves_no_thread(
    make_receiver: Callable[..., Receiver],
) -> None:
    before = webhook_threads()
    receiver = make_receiver(fail=1000)
    sim = LeverSimulator(users=1, webhook_backoff=5.0)
    sim.set_webhook(receiver.url)
    sim.add_candidate("Interrupted")
    deadline = time.monotonic() + 5
    while not sim.deliveries and time.monotonic() < deadline:
        time.sleep(0.01)
    assert webhook_threads() - before
    started = time.monotonic()
    sim.stop_webhooks()
    sim.stop_webhooks()
    assert time.monotonic() - started < 2
    assert webhook_threads() - before == set()
    assert len(sim.deliveries) == 1
    sim.add_candidate("After Stop")
    assert webhook_threads() - before == set()


def test_stopping_the_server_stops_webhooks(make_receiver: Callable[..., Receiver]) -> None:
    before = webhook_threads()
    receiver = make_receiver(fail=1000)
    sim = LeverSimulator(users=1, webhook_backoff=5.0)
    with SimulatorServer(sim):
        sim.set_webhook(receiver.url)
        sim.add_candidate("Served")
        deadline = time.monotonic() + 5
        while not sim.deliveries and time.monotonic() < deadline:
            time.sleep(0.01)
    assert webhook_threads() - before == set()
