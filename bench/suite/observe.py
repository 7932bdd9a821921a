"""The suite's side of the wire: a producer that submits requests as any upstream service
would (docs/protocol.md), and a group-less consumer that reads what the platform publishes
(answers, progress events, tool calls) from the beginning of a stack's fresh topics."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from topics.names import Topics


@dataclass(frozen=True)
class Event:
    """One AgentEvent as read: its type, its `at` (the orchestrator's unix clock), and for
    a tool call its id, worker and execution time."""

    type: str
    at: float
    tool_use_id: str | None = None
    worker: str | None = None
    duration_s: float | None = None


@dataclass(frozen=True)
class Reply:
    """One AgentResponse as read: when it was read (monotonic) and its JSON body."""

    received: float
    body: dict[str, Any]


class Client:
    """Publishes AgentRequests keyed by conversation id: acks=all, idempotent, no linger."""

    def __init__(self, bootstrap: str, topics: Topics) -> None:
        self.topic = topics.agent_requests.name
        self.producer = AIOKafkaProducer(
            bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, linger_ms=0
        )

    async def start(self) -> None:
        await self.producer.start()

    async def stop(self) -> None:
        await self.producer.stop()

    async def submit(
        self, cid: str, prompt: str, tools: list[str], timeout_s: float, wait: bool = True
    ) -> float:
        """Publish one request; returns the monotonic time just before the send began.

        `wait=False` returns once the record is queued in the producer (for bulk loads);
        `flush` then waits for every acknowledgement."""
        body = {"conversation_id": cid, "prompt": prompt, "tools": tools, "timeout_s": timeout_s}
        payload = json.dumps(body).encode()
        sent = time.monotonic()
        delivery = await self.producer.send(self.topic, payload, key=cid.encode())
        if wait:
            await delivery
        return sent

    async def flush(self) -> None:
        await self.producer.flush()


class Observer:
    """Reads agent.responses and, when asked, agent.events and tool call topics.

    Records every answer with the monotonic time it was read, every event of every
    conversation in order, and each ToolCall's `dispatched_at` by `tool_use_id`.
    """

    def __init__(
        self, bootstrap: str, topics: Topics, events: bool = False, tool_calls: tuple[str, ...] = ()
    ) -> None:
        self.topics = topics
        self.consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap, enable_auto_commit=False, fetch_max_wait_ms=100
        )
        specs = [topics.agent_responses, *([topics.agent_events] if events else [])]
        specs += [topics.tool_calls(name) for name in tool_calls]
        self.partitions = {spec.name: spec.partitions for spec in specs}
        self.replies: dict[str, Reply] = {}
        self.events: dict[str, list[Event]] = defaultdict(list)
        self.dispatched: dict[str, float] = {}
        self.progress_at = time.monotonic()
        self._waiters: dict[str, asyncio.Future[Reply]] = {}
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self.consumer.start()
        tps = [TopicPartition(t, p) for t, count in self.partitions.items() for p in range(count)]
        self.consumer.assign(tps)
        await self.consumer.seek_to_beginning(*tps)
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        await self.consumer.stop()

    def failed(self) -> BaseException | None:
        """The reader's own error, if it stopped."""
        task = self._task
        return task.exception() if task and task.done() and not task.cancelled() else None

    def check(self) -> None:
        """Raise if the reader stopped on an error of its own."""
        if self.failed() is not None:
            raise RuntimeError(f"the observer stopped: {self.failed()!r}")

    async def _run(self) -> None:
        responses = self.topics.agent_responses.name
        events = self.topics.agent_events.name
        while True:
            batch = await self.consumer.getmany(timeout_ms=100)
            now = time.monotonic()
            for tp, records in batch.items():
                for record in records:
                    body = json.loads(record.value)
                    if tp.topic == responses:
                        self._answered(body, now)
                    elif tp.topic == events:
                        event = Event(
                            body["type"],
                            body["at"],
                            body.get("tool_use_id"),
                            body.get("worker"),
                            body.get("duration_s"),
                        )
                        self.events[body["conversation_id"]].append(event)
                    else:
                        self.dispatched.setdefault(body["tool_use_id"], body["dispatched_at"])

    def _answered(self, body: dict[str, Any], now: float) -> None:
        cid = body["conversation_id"]
        if cid in self.replies:
            return
        reply = self.replies[cid] = Reply(now, body)
        self.progress_at = now
        waiter = self._waiters.pop(cid, None)
        if waiter is not None and not waiter.done():
            waiter.set_result(reply)

    def reply(self, cid: str) -> asyncio.Future[Reply]:
        """A future for the answer of `cid` (already done if it was read)."""
        future: asyncio.Future[Reply] = asyncio.get_running_loop().create_future()
        if cid in self.replies:
            future.set_result(self.replies[cid])
        else:
            self._waiters[cid] = future
        return future


async def each_had(
    observer: Observer,
    cids: list[str],
    event: str,
    timeout_s: float,
    alive: Callable[[], None],
    poll_s: float = 0.05,
) -> None:
    """Wait until `observer` has read an `event` of each conversation; `alive` raises when
    what writes or reads the events has stopped."""
    deadline = time.monotonic() + timeout_s
    events = observer.events
    while not all(any(e.type == event for e in events[c]) for c in cids):
        alive()
        if time.monotonic() > deadline:
            raise TimeoutError(
                f"no {event} event of {len(cids)} conversations within {timeout_s:g}s"
            )
        await asyncio.sleep(poll_s)


async def read_progress(
    bootstrap: str,
    topics: Topics,
    cids: list[str],
    tool_calls: tuple[str, ...] = (),
    timeout_s: float = 120.0,
) -> Progress:
    """Each conversation's events (and the ToolCalls of `tool_calls`), read from the
    beginning once it is over.

    For a measurement that a reader would disturb: reading the progress stream live (5-7
    events per conversation) takes the suite's process and the broker CPU that the 2
    cores otherwise give the platform, at the very moments a hop is being timed."""
    observer = Observer(bootstrap, topics, events=True, tool_calls=tool_calls)
    await observer.start()
    try:
        await each_had(observer, cids, "conversation_finished", timeout_s, observer.check, 0.1)
        if tool_calls:  # the calls topics are read by the same consumer: drain them too
            await _caught_up(observer, timeout_s)
    finally:
        await observer.stop()
    return Progress({cid: observer.events[cid] for cid in cids}, dict(observer.dispatched))


@dataclass(frozen=True)
class Progress:
    """What `read_progress` found: events by conversation, ToolCall `dispatched_at` by
    `tool_use_id`."""

    events: dict[str, list[Event]]
    dispatched: dict[str, float]


async def _caught_up(observer: Observer, timeout_s: float) -> None:
    """Wait until the observer's consumer has read every partition to its end."""
    consumer = observer.consumer
    ends = await consumer.end_offsets(list(consumer.assignment()))
    deadline = time.monotonic() + timeout_s
    while [tp for tp, end in ends.items() if await consumer.position(tp) < end]:
        observer.check()
        if time.monotonic() > deadline:
            raise TimeoutError(f"the observer did not catch up within {timeout_s:g}s")
        await asyncio.sleep(0.05)
