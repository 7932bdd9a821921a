"""Finishing conversations: the rest of a transition waits for its answer's acknowledgement,
only that conversation waits, and commits wait for every answer on its way."""

from __future__ import annotations

import asyncio
import logging

import pytest

from agents.finishing import Finishing


class Answer:
    """An answer whose acknowledgement the test gives (True) or refuses (False)."""

    def __init__(self) -> None:
        self.acknowledged: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self.started = asyncio.Event()

    async def __call__(self) -> bool:
        self.started.set()
        return await self.acknowledged


class Then:
    def __init__(self, fails: bool = False) -> None:
        self.ran = 0
        self.fails = fails

    async def __call__(self) -> None:
        self.ran += 1
        if self.fails:
            raise RuntimeError("boom")


async def test_the_rest_runs_after_the_acknowledgement_and_other_keys_do_not_wait() -> None:
    finishing = Finishing(limit=10)
    answer, then = Answer(), Then()
    await finishing.start(b"a", 0, answer, then)  # returns without the acknowledgement
    await asyncio.wait_for(answer.started.wait(), 1)
    assert then.ran == 0 and len(finishing) == 1
    await asyncio.wait_for(finishing.wait(b"other"), 0.01)  # nothing to wait for
    waiter = asyncio.ensure_future(finishing.wait(b"a"))
    await asyncio.sleep(0)
    assert not waiter.done()
    answer.acknowledged.set_result(True)
    await asyncio.wait_for(waiter, 1)
    assert then.ran == 1 and len(finishing) == 0


async def test_an_undelivered_answer_holds_nothing() -> None:
    finishing = Finishing(limit=10)
    answer, then = Answer(), Then()
    await finishing.start(b"a", 0, answer, then)
    answer.acknowledged.set_result(False)
    await asyncio.wait_for(finishing.wait(b"a"), 1)
    assert then.ran == 0 and len(finishing) == 0


async def test_settle_waits_for_the_answers_of_the_partitions_asked_for() -> None:
    finishing = Finishing(limit=10)
    first, second = Answer(), Answer()
    await finishing.start(b"a", 0, first, Then())
    await finishing.start(b"b", 1, second, Then())
    assert await finishing.settle(0.01) is False
    first.acknowledged.set_result(True)
    assert await finishing.settle(1, partitions={0}) is True
    assert await finishing.settle(0.01) is False  # b, partition 1, is still on its way
    second.acknowledged.set_result(True)
    assert await finishing.settle(None) is True
    assert await finishing.settle(0) is True  # nothing left


async def test_a_dropped_finish_delivers_its_answer_but_holds_nothing() -> None:
    finishing = Finishing(limit=10)
    kept, dropped = (Answer(), Then()), (Answer(), Then())
    await finishing.start(b"kept", 0, *kept)
    await finishing.start(b"dropped", 2, *dropped)
    assert finishing.drop({2, 3}) == 1
    kept[0].acknowledged.set_result(True)
    dropped[0].acknowledged.set_result(True)
    assert await finishing.settle(1) is True
    assert kept[1].ran == 1 and dropped[1].ran == 0


async def test_beyond_the_limit_a_start_waits_for_room() -> None:
    finishing = Finishing(limit=1)
    first = Answer()
    await finishing.start(b"a", 0, first, Then())
    later = Answer()
    second = asyncio.ensure_future(finishing.start(b"b", 0, later, Then()))
    await asyncio.sleep(0.01)
    assert not second.done() and len(finishing) == 1
    first.acknowledged.set_result(True)
    await asyncio.wait_for(second, 1)
    assert len(finishing) == 1  # b now
    later.acknowledged.set_result(True)
    assert await finishing.settle(1) is True


async def test_a_second_finish_of_the_same_conversation_is_refused() -> None:
    finishing = Finishing(limit=10)
    answer = Answer()
    await finishing.start(b"a", 0, answer, Then())
    with pytest.raises(RuntimeError):
        await finishing.start(b"a", 0, Answer(), Then())
    answer.acknowledged.set_result(True)
    await finishing.wait(b"a")


async def test_a_finish_cancelled_before_it_ran_frees_the_conversation() -> None:
    finishing = Finishing(limit=1)
    await finishing.start(b"a", 0, Answer(), Then())
    next(iter(finishing._running.values())).task.cancel()  # as a closing loop does
    assert await finishing.settle(1) is True and len(finishing) == 0
    again = Answer()
    await asyncio.wait_for(finishing.start(b"a", 0, again, Then()), 1)  # room given back
    again.acknowledged.set_result(True)
    assert await finishing.settle(1) is True


async def test_a_failure_after_the_answer_is_logged_and_frees_the_conversation(
    caplog: pytest.LogCaptureFixture,
) -> None:
    finishing = Finishing(limit=1)
    answer, then = Answer(), Then(fails=True)
    await finishing.start(b"a", 0, answer, then)
    answer.acknowledged.set_result(True)
    with caplog.at_level(logging.ERROR, logger="agents.finishing"):
        await asyncio.wait_for(finishing.wait(b"a"), 1)
    assert then.ran == 1 and len(finishing) == 0
    assert "Finishing a conversation failed" in caplog.text
    again = Answer()
    await asyncio.wait_for(finishing.start(b"a", 0, again, Then()), 1)  # room given back
    again.acknowledged.set_result(True)
    assert await finishing.settle(1) is True
