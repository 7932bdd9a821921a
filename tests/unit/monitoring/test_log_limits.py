"""RepeatLimit: the Kafka client's repeated lines are cut to a few per window, and the
first line after a window says how many were left out."""

from __future__ import annotations

import logging

import pytest

from monitoring import log_limits
from monitoring.log_limits import RepeatLimit, limit_client_repeats


def record(msg: str, at: float, name: str = "aiokafka", *args: object) -> logging.LogRecord:
    made = logging.LogRecord(name, logging.ERROR, __file__, 1, msg, args, None)
    made.created = at
    return made


def test_a_burst_passes_then_repeats_are_left_out_until_the_window_ends() -> None:
    limit = RepeatLimit(burst=3, window_s=10.0)
    passed = [
        limit.filter(record("Unable connect to node %s", t / 10, "aiokafka", 1)) for t in range(50)
    ]
    assert passed == [True] * 3 + [False] * 47


def test_the_first_line_after_the_window_counts_what_was_left_out() -> None:
    limit = RepeatLimit(burst=2, window_s=10.0)
    for t in range(7):
        limit.filter(record("Failed fetch messages from %s: %s", t * 0.1, "aiokafka", 1, "x"))
    later = record("Failed fetch messages from %s: %s", 10.5, "aiokafka", 1, "x")
    assert limit.filter(later)
    assert later.getMessage() == (
        "Failed fetch messages from 1: x [5 more like this in the 10 s before were left out]"
    )
    quiet = record("Failed fetch messages from %s: %s", 30.0, "aiokafka", 1, "x")
    assert limit.filter(quiet) and quiet.getMessage() == "Failed fetch messages from 1: x"


def test_kinds_are_counted_apart_and_numbers_do_not_make_a_new_kind() -> None:
    limit = RepeatLimit(burst=1, window_s=10.0)
    faust = "faust.transport.producer"
    assert limit.filter(record("producer buffer full size 1200", 0.0, faust))
    assert not limit.filter(record("producer buffer full size 1350", 0.1, faust))
    assert limit.filter(record("producer flush took 0.25", 0.2, faust))
    assert limit.filter(record("producer buffer full size 1200", 0.3, "aiokafka"))


def test_memory_is_bounded_by_the_number_of_kinds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(log_limits, "MAX_KINDS", 10)
    limit = RepeatLimit(burst=1, window_s=10.0)
    for i in range(25):
        assert limit.filter(record(f"kind {'x' * i}", 0.0))
    assert len(limit._kinds) <= 10


def test_the_client_loggers_get_the_limit_and_the_platform_loggers_do_not() -> None:
    import aiokafka.consumer.fetcher  # noqa: F401  (its logger exists once imported)

    limit = limit_client_repeats(RepeatLimit(burst=1, window_s=60.0))
    try:
        assert limit in logging.getLogger("aiokafka").filters
        assert limit in logging.getLogger("aiokafka.consumer.fetcher").filters
        assert limit not in logging.getLogger("agents.orchestrator").filters
        assert limit_client_repeats(limit) is limit
        assert logging.getLogger("aiokafka").filters.count(limit) == 1
    finally:
        for name in list(logging.root.manager.loggerDict):
            logger = logging.getLogger(name)
            if limit in logger.filters:
                logger.removeFilter(limit)
