"""A worker's periodic commit runs beside polling, never in front of it.

The consumer and producer are stand-ins with the aiokafka methods the loop calls; what is
tested is the loop's scheduling: a commit that takes its time (a broker round trip, longer
on a loaded machine) does not hold back the calls fetched meanwhile, the commit at the
stop comes after the one in flight, and a due commit waits for the calls in flight to
finish (so it is not sent between a handler and its reply), but not past one interval.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiokafka import ConsumerRecord, TopicPartition

from tool_workers import runtime as runtime_module
from tool_workers.runtime import CallConsumer, Outgoing

TP = TopicPartition("t.calls", 0)
DEADLINE_S = 5.0


def record(offset: int) -> ConsumerRecord:
    return ConsumerRecord(
        TP.topic, TP.partition, offset, 0, 0, b"k", f"v{offset}".encode(), None, 1, 2, []
    )


class SlowCommits:
    """A consumer whose commits wait until `release` is set."""

    def __init__(self) -> None:
        self.fetched: asyncio.Queue[ConsumerRecord] = asyncio.Queue()
        self.release = asyncio.Event()
        self.commit_started = asyncio.Event()
        self.commits: list[dict[TopicPartition, int]] = []
        self.in_flight = 0
        self.overlapped = False

    def subscribe(self, topics: list[str], listener: Any) -> None:
        pass

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        pass

    def assignment(self) -> set[TopicPartition]:
        return {TP}

    def pause(self, *tps: TopicPartition) -> None:
        pass

    def resume(self, *tps: TopicPartition) -> None:
        pass

    async def getmany(self, timeout_ms: int = 0) -> dict[TopicPartition, list[ConsumerRecord]]:
        try:
            first = await asyncio.wait_for(self.fetched.get(), timeout_ms / 1000)
        except TimeoutError:
            return {}
        return {TP: [first]}

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        self.overlapped |= self.in_flight > 0
        self.in_flight += 1
        self.commit_started.set()
        try:
            await self.release.wait()
            self.commits.append(dict(offsets))
        finally:
            self.in_flight -= 1


class Acked:
    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        pass

    async def send(self, topic: str, value: bytes, key: bytes) -> asyncio.Future[None]:
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done


def worker(
    handled: asyncio.Queue[int], monkeypatch: pytest.MonkeyPatch
) -> tuple[CallConsumer, SlowCommits]:
    consumer = SlowCommits()

    async def handle(rec: ConsumerRecord) -> list[Outgoing]:
        handled.put_nowait(rec.offset)
        return [Outgoing("t.results", "k", rec.value)]

    return over(consumer, handle, monkeypatch), consumer


def over(consumer: SlowCommits, handle: Any, monkeypatch: pytest.MonkeyPatch) -> CallConsumer:
    """A worker's runtime on `consumer`, with a producer whose sends are acked at once."""
    monkeypatch.setattr(runtime_module.clients, "consumer", lambda *a, **k: consumer)
    monkeypatch.setattr(runtime_module.clients, "producer", lambda *a, **k: Acked())
    return CallConsumer(
        bootstrap="127.0.0.1:9",
        topic=TP.topic,
        group="g",
        handler=handle,
        concurrency=4,
        dead_letter_topic="t.dead",
    )


@contextlib.asynccontextmanager
async def running(runtime: CallConsumer, finish: asyncio.Event) -> AsyncIterator[None]:
    """`runtime` polling; on the way out its calls are let finish and it is stopped."""
    stop = asyncio.Event()
    loop = asyncio.create_task(runtime.run(stop))
    try:
        yield
    finally:
        finish.set()
        stop.set()
        await asyncio.wait_for(loop, DEADLINE_S)


async def next_handled(handled: asyncio.Queue[int]) -> int:
    return await asyncio.wait_for(handled.get(), DEADLINE_S)


@contextlib.asynccontextmanager
async def second_call_during_a_commit(
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[tuple[CallConsumer, SlowCommits]]:
    """A running worker that handled call 0, started a commit that has not returned, and
    then handled call 1 (the test fails here if the commit held the poll loop); stopped
    on the way out, with the commit released."""
    handled: asyncio.Queue[int] = asyncio.Queue()
    runtime, consumer = worker(handled, monkeypatch)
    stop = asyncio.Event()
    loop = asyncio.create_task(runtime.run(stop))
    try:
        consumer.fetched.put_nowait(record(0))
        assert await next_handled(handled) == 0
        await asyncio.wait_for(consumer.commit_started.wait(), DEADLINE_S)
        consumer.fetched.put_nowait(record(1))
        assert await next_handled(handled) == 1  # while the commit waits
        yield runtime, consumer
    finally:
        consumer.release.set()
        stop.set()
        await asyncio.wait_for(loop, DEADLINE_S)
    assert not consumer.overlapped


async def test_calls_fetched_during_a_commit_run_before_it_returns(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async with second_call_during_a_commit(monkeypatch) as (_, consumer):
        assert consumer.commits == []  # the first commit is still in flight
    assert consumer.commits[-1] == {TP: 2}


async def test_a_commit_now_waits_for_the_one_in_flight(monkeypatch: pytest.MonkeyPatch) -> None:
    async with second_call_during_a_commit(monkeypatch) as (runtime, consumer):
        now = asyncio.create_task(runtime.commit(now=True))  # as a rebalance does
        for _ in range(5):  # no I/O in between: a commit that did not wait would be in
            await asyncio.sleep(0)
        assert consumer.in_flight == 1
        consumer.release.set()
        await asyncio.wait_for(now, DEADLINE_S)
        assert len(consumer.commits) == 2  # the one in flight, then this one
        assert consumer.commits[-1] == {TP: 2}


class Gated(SlowCommits):
    """Commits return at once; polls with nothing fetched are counted."""

    def __init__(self) -> None:
        super().__init__()
        self.release.set()
        self.idle_polls = 0
        self.wanted_polls = 0
        self.polled = asyncio.Event()

    async def getmany(self, timeout_ms: int = 0) -> dict[TopicPartition, list[ConsumerRecord]]:
        if self.fetched.empty():
            self.idle_polls += 1
            if self.idle_polls >= self.wanted_polls:
                self.polled.set()
            await asyncio.sleep(0)
            return {}
        return {TP: [self.fetched.get_nowait()]}


async def test_a_due_commit_waits_for_the_calls_in_flight(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    consumer = Gated()
    monkeypatch.setattr(runtime_module, "COMMIT_INTERVAL_S", 1e6)  # never overdue here
    started, finish = asyncio.Event(), asyncio.Event()

    async def handle(rec: ConsumerRecord) -> list[Outgoing]:
        started.set()
        await finish.wait()
        return [Outgoing("t.results", "k", rec.value)]

    async with running(over(consumer, handle, monkeypatch), finish):
        consumer.fetched.put_nowait(record(0))
        await asyncio.wait_for(started.wait(), DEADLINE_S)
        consumer.wanted_polls = consumer.idle_polls + 20  # the loop polls on meanwhile
        consumer.polled.clear()
        await asyncio.wait_for(consumer.polled.wait(), DEADLINE_S)
        assert not consumer.commit_started.is_set()  # due, but a call runs
        finish.set()
        await asyncio.wait_for(consumer.commit_started.wait(), DEADLINE_S)
        assert consumer.commits[0] == {TP: 1}  # the call's offset, committed once it is done


async def test_a_commit_overdue_by_an_interval_goes_out_while_calls_run(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    consumer = Gated()
    monkeypatch.setattr(runtime_module, "COMMIT_INTERVAL_S", 0.01)
    second_started, finish = asyncio.Event(), asyncio.Event()

    async def handle(rec: ConsumerRecord) -> list[Outgoing]:
        if rec.offset == 0:
            await second_started.wait()  # finishes only once offset 1 runs: never idle
        else:
            second_started.set()
            await finish.wait()  # offset 1 stays in flight
        return [Outgoing("t.results", "k", rec.value)]

    async with running(over(consumer, handle, monkeypatch), finish):
        consumer.fetched.put_nowait(record(0))
        consumer.fetched.put_nowait(record(1))
        await asyncio.wait_for(consumer.commit_started.wait(), DEADLINE_S)
        assert not finish.is_set() and consumer.commits[0] == {TP: 1}  # offset 0, done
