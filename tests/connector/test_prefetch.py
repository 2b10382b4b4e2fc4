"""Read-ahead: pages come in order, errors reach the consumer, and reading stays bounded."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from connector.prefetch import Prefetcher
from connector.sync import BATCH_SIZE, READ_AHEAD


def _counting(produced: list[int], limit: int) -> Iterator[int]:
    """A source that records how far it has been read."""
    for i in range(limit):
        produced.append(i)
        yield i


def _wait_for(condition, timeout: float = 5.0) -> None:
    """Wait until the condition holds (the worker thread runs on its own)."""
    done = threading.Event()
    for _ in range(int(timeout / 0.01)):
        if condition():
            return
        done.wait(0.01)
    raise AssertionError("condition not reached")


def test_items_arrive_in_order_and_end() -> None:
    assert list(Prefetcher(iter(range(50)), depth=3)) == list(range(50))


def test_reads_at_most_depth_ahead_of_the_consumer() -> None:
    produced: list[int] = []
    pages = Prefetcher(_counting(produced, 100), depth=4)
    try:
        assert next(pages) == 0
        # the queue holds 4 items and the worker holds one more, waiting to put it
        _wait_for(lambda: len(produced) == 6)
        threading.Event().wait(0.2)
        assert len(produced) == 6
        assert pages.ready()
    finally:
        pages.close()


def test_a_source_error_is_raised_in_the_consumer_after_the_good_items() -> None:
    def failing() -> Iterator[int]:
        yield 1
        raise RuntimeError("Lever went away")

    pages = Prefetcher(failing())
    assert next(pages) == 1
    with pytest.raises(RuntimeError, match="Lever went away"):
        next(pages)


def test_close_stops_the_reader_early() -> None:
    produced: list[int] = []
    pages = Prefetcher(_counting(produced, 10_000), depth=2)
    next(pages)
    pages.close()
    count = len(produced)
    threading.Event().wait(0.2)
    assert len(produced) == count < 10


def test_the_sync_reads_a_whole_batch_ahead() -> None:
    # so a fast Lever fills each 1,000-record batch while the previous one is written
    assert READ_AHEAD * 100 >= BATCH_SIZE
