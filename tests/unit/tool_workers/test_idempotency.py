"""Repeated call ids: what a worker sends instead of running the call again."""

from __future__ import annotations

import time

from aiokafka import ConsumerRecord

from tool_workers.idempotency import (
    RUNNING,
    Journal,
    RecentCalls,
    answer_unclaimed,
    repeat_answer,
)
from tool_workers.runtime import Outgoing
from topics.codec import encode
from topics.messages import CallJournalEntry, ToolCall, ToolResult
from topics.names import Topics

CALL = ToolCall(
    conversation_id="c", tool_use_id="t1", tool="pay", input={}, deadline_at=100, dispatched_at=1
)
RESULT = ToolResult(conversation_id="c", tool_use_id="t1", tool="pay", content="paid", worker="w1")


def answer(result: ToolResult) -> Outgoing:
    return Outgoing("steps", result.conversation_id, encode(result))


def journal() -> Journal:
    return Journal("unused:9092", Topics().tool_journal("pay"), producer=None)  # type: ignore[arg-type]


def entry(state: str, result: ToolResult | None = None, at: float = 1.0) -> bytes:
    return encode(
        CallJournalEntry(
            tool_use_id="t1", state=state, worker="w1", at=at, deadline_at=100, result=result
        )
    )


def journal_record(value: bytes, offset: int = 0) -> ConsumerRecord:
    topic = Topics().tool_journal("pay").name
    return ConsumerRecord(topic, 0, offset, 0, 0, b"t1", value, None, 2, len(value), ())


def test_a_journal_read_past_a_record_knows_its_offset() -> None:
    book = journal()
    book._apply(journal_record(entry("started"), offset=7))
    assert book._read_upto == {0: 8}


def test_a_call_is_new_then_running_then_answered_from_memory() -> None:
    recent = RecentCalls()
    assert repeat_answer(CALL, recent, None, answer) is None
    recent.start("t1")
    assert repeat_answer(CALL, recent, None, answer) == []
    sent = [answer(RESULT)]
    recent.finish("t1", sent)
    assert repeat_answer(CALL, recent, None, answer) == sent


def test_an_abandoned_call_may_run_again() -> None:
    recent = RecentCalls()
    recent.start("t1")
    assert recent.seen("t1") is RUNNING
    recent.abandon("t1")
    assert recent.seen("t1") is None


def test_remembered_results_are_bounded_by_size_oldest_first() -> None:
    recent = RecentCalls(max_bytes=250)
    for i in range(5):
        recent.finish(f"t{i}", [Outgoing("steps", "c", b"x" * 100)])
    assert [recent.seen(f"t{i}") is not None for i in range(5)] == [False] * 3 + [True] * 2


def test_the_journal_re_sends_a_finished_call_and_leaves_a_started_one_to_the_claim() -> None:
    book = journal()
    book._apply(journal_record(entry("started")))
    assert repeat_answer(CALL, RecentCalls(), book, answer) is None  # claim, lose, wait
    book._apply(journal_record(entry("finished", RESULT)))
    assert repeat_answer(CALL, RecentCalls(), book, answer) == [answer(RESULT)]


def test_the_first_started_record_is_the_claim_that_runs_the_call() -> None:
    book = journal()
    book._apply(journal_record(entry("started", at=1.0)))
    book._apply(journal_record(entry("started", at=2.0)))  # a second worker's claim, read later
    first = book.get("t1")
    assert first is not None and first.at == 1.0


async def test_a_worker_that_lost_the_claim_re_sends_the_winners_result() -> None:
    book = journal()
    call = CALL.model_copy(update={"deadline_at": time.time() + 5})
    book._apply(journal_record(entry("started")))
    book._apply(journal_record(entry("finished", RESULT)))
    assert await answer_unclaimed(call, book, answer) == [answer(RESULT)]
    lost = CALL.model_copy(update={"tool_use_id": "t2", "deadline_at": time.time() + 0.05})
    assert await answer_unclaimed(lost, book, answer) == [], "none by the deadline: nothing"


def test_a_finished_record_is_not_undone_by_a_started_one_read_later() -> None:
    book = journal()
    book._apply(journal_record(entry("finished", RESULT)))
    book._apply(journal_record(entry("started", at=2.0)))  # a replica's late or replayed record
    found = book.get("t1")
    assert found is not None and found.result == RESULT


def test_unreadable_journal_records_are_ignored_and_old_ones_pruned() -> None:
    book = journal()
    book._apply(journal_record(b"not json"))
    book._apply(journal_record(entry("started")))
    book._prune(now=100 + 59)
    assert book.get("t1") is not None
    book._prune(now=100 + 61)
    assert book.get("t1") is None
