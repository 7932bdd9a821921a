"""Every message the orchestrator produces goes through `Sender`: bounded, never wedging.

Two kinds of send, matching what a crash may cost:

- `respond` (final answers) waits for the broker's acknowledgement before the caller
  stores the state that says "answered", retrying retriable errors within a bound. A
  crash before the acknowledgement leaves the conversation unfinished in the changelog,
  so it is answered again later; nothing is lost.
- `send` (calls, events, ticks, dead letters) hands the message to the producer and
  checks its acknowledgement in a callback. faust flushes the producer before it commits
  an input offset, so these reach the broker before the offset that caused them. A call
  that still went missing is re-published by the state machine when its lease runs out,
  so only errors no retry can cure are reported (`on_failure`).

A topic not seen yet (its metadata may never come: a deleted tool topic) is sent from a
background task, so the agent never waits on it. Reply topics named by requests are
looked up (and never auto-created) as soon as the request arrives; a response that cannot
be delivered there is replaced by a `failed` notice on the default response topic.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient

from config.eager import within
from monitoring import metrics
from topics import clients
from topics.codec import encode
from topics.connection import Target
from topics.messages import AgentResponse

log = logging.getLogger(__name__)

OnFailure = Callable[[str], Awaitable[None]]
Landed = Callable[[bytes, bytes, float], Awaitable[bool]]
"""(key, value, since) -> whether that record reached the default response topic."""
MAX_BACKGROUND_SENDS = 10_000
"""Sends allowed to wait for unknown topics at once; the agent waits beyond that."""
RESPOND_ATTEMPTS = 6
"""Tries for a final answer (each bounded by the produce timeout): rides out a broker
restart, then gives up and leaves the conversation to be answered again."""


class Undelivered(Exception):
    """A response could not be delivered anywhere within its bound."""


def retriable(exc: BaseException | None) -> bool:
    """Worth another try: timeouts and the errors Kafka itself calls retriable."""
    return isinstance(exc, asyncio.TimeoutError | TimeoutError) or bool(
        getattr(exc, "retriable", False)
    )


class TopicDirectory:
    """Which topics exist, from metadata listings taken when a name is not known yet.

    A miss is re-checked once more a second later (a topic created just before the
    request may take that long to show up); listings are at most five per second.
    """

    MIN_LISTING_INTERVAL_S = 0.2
    RECHECK_AFTER_S = 1.0
    MISSING_TTL_S = 10.0
    """A topic found missing is answered from memory this long (no listing per request)."""

    def __init__(self, bootstrap: Target, timeout_s: float) -> None:
        self._bootstrap, self._timeout_s = bootstrap, timeout_s
        self._names: set[str] = set()
        self._missing: dict[str, float] = {}
        self._listed_at = 0.0
        self._lock = asyncio.Lock()
        self._admin: AIOKafkaAdminClient | None = None

    async def close(self) -> None:
        if self._admin is not None:
            await self._admin.close()

    async def exists(self, topic: str) -> bool:
        if topic in self._names:
            return True
        if self._missing.get(topic, 0.0) > time.monotonic():
            return False
        for attempt in range(2):
            if attempt:
                await asyncio.sleep(self.RECHECK_AFTER_S)
            async with self._lock:
                if topic not in self._names:
                    await asyncio.wait_for(self._refresh(), self._timeout_s)
            if topic in self._names:
                return True
        if len(self._missing) > MAX_BACKGROUND_SENDS:
            self._missing.clear()
        self._missing[topic] = time.monotonic() + self.MISSING_TTL_S
        return False

    async def _refresh(self) -> None:
        wait = self._listed_at + self.MIN_LISTING_INTERVAL_S - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)
        if self._admin is None:
            admin = clients.admin(self._bootstrap)
            await admin.start()
            self._admin = admin
        self._names = set(await self._admin.list_topics())
        self._listed_at = time.monotonic()


STATE_BATCH_BYTES = 1024 * 1024
"""Batches of the changelog producer: a commit hands over all its held states at once, and
aiokafka makes the hand-over wait for a full batch (16 KiB by default) to be sent first."""


class StateProducer:
    """The producer of the table's changelog records: one of its own, started on first use.

    Not faust's `send_changelog`: each record waited in faust's producer buffer for a task
    that sends one at a time, and while more than 100 waited, faust's conductor held every
    incoming event until they were sent ("producer buffer full": 12-15 times a run of
    3,000 conversations under load, commits overrunning their 0.5 s interval 18-23 times,
    up to 5 s). Not faust's aiokafka producer either: all of a commit's records go out as
    one large request, and aiokafka has one request in flight per broker, so the calls
    and answers produced meanwhile waited for it (20% fewer conversations a second).
    """

    def __init__(self, target: Target, timeout_s: float) -> None:
        self._target, self._timeout_s = target, timeout_s
        self._producer: AIOKafkaProducer | None = None
        self._lock = asyncio.Lock()

    async def send(
        self, topic: str, partition: int, key: bytes, value: bytes | None
    ) -> asyncio.Future[Any]:
        producer = self._producer or await self._start()
        return await within(
            producer.send(topic, value, key=key, partition=partition), self._timeout_s
        )

    async def _start(self) -> AIOKafkaProducer:
        async with self._lock:
            if self._producer is None:
                producer = clients.producer(self._target, max_batch_size=STATE_BATCH_BYTES)
                try:
                    await asyncio.wait_for(producer.start(), self._timeout_s)
                except BaseException:
                    await producer.stop()
                    raise
                self._producer = producer
        return self._producer

    async def close(self) -> None:
        """Flush what was handed over (bounded), then stop."""
        producer, self._producer = self._producer, None
        if producer is not None:
            try:
                await asyncio.wait_for(producer.flush(), self._timeout_s)
            except Exception as exc:
                log.warning("State writes not flushed at the stop: %s.", _reason(exc))
            await asyncio.wait_for(producer.stop(), self._timeout_s)


class Sender:
    """Produces through faust's producer with a bound on every wait."""

    def __init__(
        self,
        producer: Any,
        directory: TopicDirectory,
        default_reply_topic: str,
        timeout_s: float,
        states: Target,
        landed: Landed | None = None,
    ) -> None:
        self._producer = producer
        self._states = StateProducer(states, timeout_s)
        self._landed = landed
        self._directory = directory
        self._default = default_reply_topic
        self._timeout_s = timeout_s
        self._known: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._room = asyncio.Semaphore(MAX_BACKGROUND_SENDS)

    async def send(
        self, topic: str, key: bytes, value: bytes, on_failure: OnFailure | None = None
    ) -> None:
        """Produce one message; `on_failure(reason)` runs if it never reaches the broker."""
        if topic not in self._known:
            await self._spawn(self._send_and_wait(topic, key, value, on_failure))
            return
        try:
            pending = await within(self._produce(topic, key, value), self._timeout_s)
        except Exception as exc:
            await self._spawn(self._failed(topic, exc, on_failure))
            return
        pending.add_done_callback(lambda fut: self._acknowledged(topic, fut, on_failure))

    async def store(
        self, topic: str, partition: int, key: bytes, value: bytes | None
    ) -> asyncio.Future[Any]:
        """Produce a table's changelog record (None deletes) to its partition; the returned
        future resolves once the broker has it. See `StateProducer`."""
        return await self._states.send(topic, partition, key, value)

    async def close(self) -> None:
        await self._states.close()
        await self._directory.close()

    def look_up(self, topic: str) -> None:
        """Start finding out whether a reply topic exists, long before the answer is due."""
        if topic != self._default:
            self._spawn_now(self._look_up(topic))

    async def _look_up(self, topic: str) -> None:
        try:
            await self._directory.exists(topic)
        except Exception as exc:
            log.warning("Looking up reply topic %s failed: %s.", topic, _reason(exc))

    async def respond(self, topic: str, key: bytes, response: AgentResponse, value: bytes) -> None:
        """Deliver a final answer (`value` is `response` encoded) and wait for the broker
        to acknowledge it.

        On a caller-named topic that is missing or refuses it, a `failed` notice goes to
        the default response topic instead. Raises `Undelivered` when neither got through.
        """
        if topic != self._default:
            try:
                if not await self._directory.exists(topic):
                    raise LookupError("the topic does not exist (create it before naming it)")
                await self._deliver(topic, key, value)
                return
            except Exception as exc:
                reason = _reason(exc)
                metrics.SEND_FAILURES.labels("reply").inc()
                log.warning(
                    "Response of %s could not be delivered to %s: %s.",
                    response.conversation_id,
                    topic,
                    reason,
                )
                value = encode(
                    AgentResponse(
                        conversation_id=response.conversation_id,
                        status="failed",
                        error=f"the {response.status} response could not be delivered to "
                        f"reply topic {topic!r}: {reason}",
                        metadata=response.metadata,
                    )
                )
        await self._deliver(self._default, key, value)

    async def _deliver(self, topic: str, key: bytes, value: bytes) -> None:
        """Produce and wait for the acknowledgement, retrying what a retry may cure.

        An acknowledgement lost in an outage does not mean the write was: before trying
        again, the default response topic is read to see whether the record got there.
        """
        first_try = time.time() - 1.0
        for attempt in range(1, RESPOND_ATTEMPTS + 1):
            try:
                await self._produce_and_wait(topic, key, value)
                self._known.add(topic)
                return
            except Exception as exc:
                if attempt == RESPOND_ATTEMPTS or not retriable(exc):
                    raise Undelivered(_reason(exc)) from exc
                log.warning("Response to %s not acknowledged (%s).", topic, _reason(exc))
            if await self._got_there(topic, key, value, first_try):
                log.info("The response to %s had been written after all.", topic)
                return

    async def _got_there(self, topic: str, key: bytes, value: bytes, since: float) -> bool:
        if self._landed is None or topic != self._default:
            return False
        try:
            return await self._landed(key, value, since)
        except Exception as exc:
            log.warning("Could not check for the response on %s: %s.", topic, _reason(exc))
            return False

    async def _produce(self, topic: str, key: bytes, value: bytes) -> asyncio.Future[Any]:
        """Straight to faust's aiokafka producer: faust's `send` around it only fans the
        record out to sensors (none here) and reshapes arguments, 2.2% of the
        orchestrator's CPU under load. faust's flush before a commit flushes this producer
        all the same."""
        return await self._producer._ensure_producer().send(topic, value, key=key)

    async def _produce_and_wait(self, topic: str, key: bytes, value: bytes) -> None:
        """Hand over and wait for the broker's acknowledgement, each within the timeout."""
        pending = await within(self._produce(topic, key, value), self._timeout_s)
        await asyncio.wait_for(pending, self._timeout_s)

    async def _send_and_wait(
        self, topic: str, key: bytes, value: bytes, on_failure: OnFailure | None
    ) -> None:
        try:
            await self._produce_and_wait(topic, key, value)
        except Exception as exc:
            await self._failed(topic, exc, on_failure)
            return
        self._known.add(topic)

    def _acknowledged(
        self, topic: str, fut: asyncio.Future[Any], on_failure: OnFailure | None
    ) -> None:
        if fut.cancelled() or fut.exception() is None:
            return
        self._spawn_now(self._failed(topic, fut.exception(), on_failure))

    async def _failed(
        self, topic: str, exc: BaseException | None, on_failure: OnFailure | None
    ) -> None:
        reason = _reason(exc)
        metrics.SEND_FAILURES.labels("call" if on_failure else "other").inc()
        log.warning("A message for %s was not delivered: %s.", topic, reason)
        if on_failure is not None and not retriable(exc):
            try:
                await on_failure(reason)
            except Exception:
                log.exception("Reporting the failed delivery to %s failed too.", topic)

    async def _spawn(self, work: Awaitable[None]) -> None:
        await self._room.acquire()
        self._spawn_now(work, acquired=True)

    def _spawn_now(self, work: Awaitable[None], acquired: bool = False) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)

        def done(finished: asyncio.Task[None]) -> None:
            self._tasks.discard(finished)
            if acquired:
                self._room.release()

        task.add_done_callback(done)


def _reason(exc: BaseException | None) -> str:
    if isinstance(exc, asyncio.TimeoutError | TimeoutError):
        return "no acknowledgement within the produce timeout"
    return f"{type(exc).__name__}: {exc}"[:300]
