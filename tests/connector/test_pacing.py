"""The token bucket keeps the client under Lever's rate limit; a fake clock, no real sleeping."""

from __future__ import annotations

import pytest

from connector.lever.pacing import TokenBucket
from tests.connector.conftest import FakeClock


def acquisition_times(rate: float, burst: int, count: int) -> list[float]:
    """When each of `count` back-to-back acquisitions got its token."""
    fake = FakeClock()
    bucket = TokenBucket(rate, burst, clock=fake.monotonic, sleep=fake.sleep)
    times = []
    for _ in range(count):
        bucket.acquire()
        times.append(fake.now)
    return times


def busiest_window(times: list[float], width: float = 1.0) -> int:
    """The most acquisitions in any half-open window [t, t + width)."""
    return max(sum(1 for u in times if t <= u < t + width) for t in times)


CONFIGS = [(10, 10), (10, 20), (10, 1), (4, 3), (2.5, 5)]


def test_the_first_burst_goes_out_without_waiting() -> None:
    assert acquisition_times(10, 10, 10) == [0.0] * 10


def test_the_request_after_a_burst_waits_one_interval() -> None:
    assert acquisition_times(10, 10, 11)[-1] == pytest.approx(0.1)


@pytest.mark.parametrize(("rate", "burst"), CONFIGS)
def test_a_hundred_acquisitions_take_at_least_the_unpaced_remainder(
    rate: float, burst: int
) -> None:
    assert acquisition_times(rate, burst, 100)[-1] >= (100 - burst) / rate - 1e-9


@pytest.mark.parametrize(("rate", "burst"), CONFIGS)
def test_no_one_second_window_holds_more_than_burst_plus_rate(rate: float, burst: int) -> None:
    assert busiest_window(acquisition_times(rate, burst, 200)) <= burst + rate


def test_the_default_pacing_never_exceeds_lever_burst_ceiling_of_20_per_second() -> None:
    assert busiest_window(acquisition_times(10, 10, 300)) <= 20


@pytest.mark.parametrize(("rate", "burst"), CONFIGS)
def test_the_steady_state_stays_at_or_under_the_rate(rate: float, burst: int) -> None:
    times = acquisition_times(rate, burst, 300)
    steady = times[burst:]
    assert (len(steady) - 1) / (steady[-1] - steady[0]) <= rate + 1e-9


def test_an_idle_bucket_refills_only_up_to_its_burst() -> None:
    fake = FakeClock()
    bucket = TokenBucket(10, 5, clock=fake.monotonic, sleep=fake.sleep)
    fake.now = 1000.0
    for _ in range(5):
        bucket.acquire()
    assert fake.sleeps == []
    bucket.acquire()
    assert fake.sleeps == [pytest.approx(0.1)]


def test_time_spent_elsewhere_counts_toward_the_next_token() -> None:
    fake = FakeClock()
    bucket = TokenBucket(10, 1, clock=fake.monotonic, sleep=fake.sleep)
    bucket.acquire()
    fake.now += 0.06
    bucket.acquire()
    assert fake.sleeps == [pytest.approx(0.04)]


def test_rate_zero_means_unpaced() -> None:
    fake = FakeClock()
    bucket = TokenBucket(0, 1, clock=fake.monotonic, sleep=fake.sleep)
    for _ in range(1000):
        bucket.acquire()
    assert fake.sleeps == []


@pytest.mark.parametrize(("rate", "burst"), [(-1, 10), (10, 0)])
def test_nonsense_settings_are_refused(rate: float, burst: int) -> None:
    with pytest.raises(ValueError, match="rate >= 0 and burst >= 1"):
        TokenBucket(rate, burst)


def test_repr_shows_the_settings() -> None:
    assert repr(TokenBucket(10, 20)) == "TokenBucket(rate=10, burst=20)"
