"""The worker loop shared by tool and model workers: poll, run calls as tasks, commit safely.

Calls run as tasks so a long call never stalls polling; partitions are paused while the
pool is full; offsets are committed only up to the lowest unfinished call, and only after
that call's result was acknowledged by the broker.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import os
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiokafka import ConsumerRebalanceListener, TopicPartition
from aiokafka.structs import ConsumerRecord

from monitoring import stop_deadline
from tool_workers.offsets import ContiguousOffsets
from topics import clients
from topics.codec import DecodeError, M, decode, encode, encode_key
from topics.connection import Target
from topics.messages import DeadLetter

log = logging.getLogger(__name__)

POLL_TIMEOUT_MS = 200
FETCH_MAX_WAIT_MS = 500
"""How long a fetch waits on idle partitions. A record arriving on any partition in the
fetch ends the wait at once, and the worker takes every fetched record at once, so the
wait only delays records of a partition left out of the fetch in flight (aiokafka keeps
one per broker): one assigned or resumed meanwhile. Every empty fetch costs the broker
CPU: at 20 ms, an idle model worker and tool worker cost a 2-core broker 8% of a core
and themselves 4% each; at 500 ms, 0.7% each."""
FULL_POOL_WAIT_S = 1.0
COMMIT_INTERVAL_S = 0.2
"""How often finished calls' offsets are committed, in the background: a commit is a
broker round trip (8-17 ms, up to 68 ms, on a loaded 2-core machine) and polling goes on
meanwhile. A due commit waits for a moment with no call in flight, up to one interval
more: started as a call was fetched, it went out between the handler and its reply. Left
out of that window, the reply's way from the handler to the socket went from 0.76-0.88 to
0.41-0.42 ms at p90, 1.5-1.9 to 1.0-1.05 ms at p99 (sequential no-op calls, 2 cores)."""
COMMIT_TIMEOUT_S = 10.0
"""Bound on one commit: aiokafka waits for a group coordinator for as long as the broker
is gone, and a stop or a rebalance waits for the commit in flight."""
SESSION_TIMEOUT_MS = 6_000
"""Kafka's lowest allowed group session: a killed worker's partitions move on this soon."""


@dataclass(frozen=True)
class Outgoing:
    """A message a handler wants published before its input counts as done."""

    topic: str
    key: str
    value: bytes


Handler = Callable[[ConsumerRecord], Awaitable[list[Outgoing]]]


class BadMessage(ValueError):
    """The input cannot be processed; it goes to the dead-letter topic with this reason."""


def worker_id() -> str:
    """host:pid, the name results and events give this worker process."""
    return f"{socket.gethostname()}:{os.getpid()}"


class _Rebalance(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, runtime: CallConsumer) -> None:
        self._runtime = runtime

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        await self._runtime.commit(only=set(revoked), now=True)
        self._runtime.offsets.forget(set(revoked))
        self._runtime.drop_backlog(set(revoked))

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        log.info("Assigned %s.", sorted(f"{tp.topic}[{tp.partition}]" for tp in assigned))


class CallConsumer:
    """Consume one topic as one consumer group member, running up to `concurrency` calls.

    `busy()` counts slots held by something other than running calls (threads of sync
    tools that overran their deadline), so they reduce what the member takes on.
    """

    def __init__(
        self,
        *,
        bootstrap: Target,
        topic: str,
        group: str,
        handler: Handler,
        concurrency: int,
        dead_letter_topic: str,
        busy: Callable[[], int] = lambda: 0,
    ) -> None:
        self.topic = topic
        self._busy = busy
        self._handler = handler
        self._concurrency = max(1, concurrency)
        self._dlq = dead_letter_topic
        self.offsets = ContiguousOffsets()
        self._tasks: set[asyncio.Task[None]] = set()
        self._backlog: collections.deque[tuple[TopicPartition, ConsumerRecord]] = (
            collections.deque()
        )
        """Records taken from the consumer but not started yet (the pool was full)."""
        self._commit_at = time.monotonic()  # due from the start, overdue an interval later
        self._committing: asyncio.Task[None] | None = None
        """The periodic commit in flight, if any (`_commit_in_background`)."""
        self.consumer = clients.consumer(
            bootstrap,
            group_id=group,
            auto_offset_reset="earliest",
            fetch_max_wait_ms=FETCH_MAX_WAIT_MS,
            session_timeout_ms=SESSION_TIMEOUT_MS,
            heartbeat_interval_ms=1_000,
            max_poll_interval_ms=300_000,
        )
        self.producer = clients.producer(bootstrap)

    async def commit(self, only: set[TopicPartition] | None = None, now: bool = False) -> None:
        """Commit what is safe to commit: at most every COMMIT_INTERVAL_S unless `now`
        (a commit is a broker round trip; redelivery after a crash is harmless). A commit
        `now` (a rebalance, the stop) first lets a periodic one in flight finish, so
        commits reach the broker in the order their offsets were taken."""
        if now and self._committing is not None:
            await asyncio.wait({self._committing})  # bounded: it has COMMIT_TIMEOUT_S
        if not now and time.monotonic() < self._commit_at:
            return
        self._commit_at = time.monotonic() + COMMIT_INTERVAL_S
        offsets = self.offsets.committable(only)
        owned = self.consumer.assignment()
        offsets = {tp: o for tp, o in offsets.items() if tp in owned}
        if not offsets:
            return
        try:
            async with asyncio.timeout(COMMIT_TIMEOUT_S):
                await self.consumer.commit(offsets)
        except Exception as exc:  # a rebalance in progress, the broker gone: the next one
            log.warning("Commit of %d partitions failed (%s); will retry.", len(offsets), exc)
            return
        self.offsets.mark_committed(offsets)

    async def run(self, stop: asyncio.Event, ready: asyncio.Event | None = None) -> None:
        """Poll until `stop` is set, then finish in-flight calls and commit."""
        await self.producer.start()
        self.consumer.subscribe([self.topic], listener=_Rebalance(self))
        await self.consumer.start()
        if ready is not None:
            ready.set()
        try:
            while not stop.is_set():
                await self._poll_once(stop)
                self._commit_in_background(idle=not self._tasks)
            self._backlog.clear()
            if self._tasks:
                await asyncio.wait(self._tasks)
            await self.commit(now=True)
        finally:
            if self._committing is not None:
                self._committing.cancel()  # done already, unless this run was cancelled
            await clients.stop_consumer(self.consumer)
            await self.producer.stop()

    def _commit_in_background(self, idle: bool) -> None:
        """Start a periodic commit when one is due and none is in flight. Awaited in the
        poll loop, each commit held back every call fetched meanwhile for its round trip.

        While calls are in flight (`idle` false) a due commit waits, up to one interval
        more, for the last of them to finish (`_call_done`): it then goes out while the
        worker has nothing else to send, instead of between a handler and its reply."""
        if self._committing is not None and not self._committing.done():
            return
        now = time.monotonic()
        if now < self._commit_at or (not idle and now < self._commit_at + COMMIT_INTERVAL_S):
            return
        self._committing = asyncio.create_task(self.commit())

    def _call_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not self._tasks:
            self._commit_in_background(idle=True)

    def _room(self) -> int:
        return self._concurrency - len(self._tasks) - self._busy()

    async def _poll_once(self, stop: asyncio.Event) -> None:
        """Start what the pool has room for; take every fetched record when it has room.

        Everything the consumer fetched is taken at once (no `max_records`): aiokafka
        holds back the next fetch of every partition on a broker while any of them has
        records left unread, up to 0.1 s, which showed up as a 40-100 ms stall of
        unrelated calls. What the pool cannot start yet waits in the backlog, with the
        partitions paused.
        """
        self._start_backlog()
        assigned = self.consumer.assignment()
        if self._room() <= 0 or self._backlog:
            self.consumer.pause(*assigned)
            stopper = asyncio.ensure_future(stop.wait())
            await asyncio.wait(
                {*self._tasks, stopper},
                timeout=FULL_POOL_WAIT_S,
                return_when=asyncio.FIRST_COMPLETED,
            )
            stopper.cancel()
            await self.consumer.getmany(timeout_ms=0)  # keeps the poll interval alive
            return
        self.consumer.resume(*assigned)
        batch = await self.consumer.getmany(timeout_ms=POLL_TIMEOUT_MS)
        for tp, records in batch.items():
            for record in records:
                self.offsets.started(tp, record.offset)
                self._backlog.append((tp, record))
        self._start_backlog()

    def _start_backlog(self) -> None:
        while self._backlog and self._room() > 0:
            tp, record = self._backlog.popleft()
            task = asyncio.create_task(self._process(tp, record))
            self._tasks.add(task)
            task.add_done_callback(self._call_done)

    def drop_backlog(self, tps: set[TopicPartition]) -> None:
        """Forget unstarted records of partitions this member no longer owns."""
        self._backlog = collections.deque(item for item in self._backlog if item[0] not in tps)

    async def _process(self, tp: TopicPartition, record: ConsumerRecord) -> None:
        try:
            outgoing = await self._handler(record)
        except BadMessage as exc:
            outgoing = [self._dead_letter(record, str(exc))]
        except Exception as exc:
            log.exception("Handler failed on %s[%d]@%d.", tp.topic, tp.partition, record.offset)
            outgoing = [self._dead_letter(record, f"handler error: {type(exc).__name__}")]
        try:
            sends = [
                await self.producer.send(o.topic, o.value, key=encode_key(o.key)) for o in outgoing
            ]
            await asyncio.gather(*sends)
        except Exception:
            log.exception(
                "Publishing results for %s@%d failed; it will be redelivered.", tp, record.offset
            )
            return  # not marked finished: the commit point stays below it
        self.offsets.finished(tp, record.offset)

    def _dead_letter(self, record: ConsumerRecord, reason: str) -> Outgoing:
        letter = DeadLetter.of(record, reason, at=time.time())
        return Outgoing(self._dlq, letter.source_topic, encode(letter))


def decode_call(record: ConsumerRecord, model: type[M]) -> M:
    """Decode a consumed call, turning a bad payload into a dead-letter reason."""
    try:
        return decode(record.value, model)
    except DecodeError as exc:
        raise BadMessage(str(exc)) from exc


async def run_until_signalled(
    consumer: CallConsumer, started: Callable[[], None], grace_s: float
) -> None:
    """Run a CallConsumer until SIGTERM/SIGINT, draining in-flight calls before exit; the
    process exits `grace_s` after the signal at the latest (`monitoring.stop_deadline`)."""
    import signal

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()

    def stopping() -> None:
        stop_deadline.arm(grace_s)
        stop.set()

    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stopping)
    ready = asyncio.Event()
    runner = asyncio.create_task(consumer.run(stop, ready))
    await asyncio.wait(
        {runner, asyncio.ensure_future(ready.wait())}, return_when=asyncio.FIRST_COMPLETED
    )
    if ready.is_set():
        started()
    await runner
