"""Call ids as idempotency keys: a call delivered again is answered, not run again.

The same call reaches a worker twice when the orchestrator re-publishes it after its lease
ran out, or when a worker died before committing its offset. `RecentCalls` covers this
process (the first delivery still runs, or its result is at hand); `Journal` covers a tool
that is not idempotent across processes and crashes: before such a call runs, a `started`
record is on the broker, so no worker ever starts that id again; afterwards a `finished`
record carries the result, which any worker re-sends instead of running the call.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Literal

from aiokafka import AIOKafkaProducer, ConsumerRecord

from monitoring import metrics
from tool_workers.runtime import Outgoing
from topics.codec import DecodeError, decode, encode, encode_key
from topics.connection import Target
from topics.follow import follow
from topics.messages import CallJournalEntry, ToolCall, ToolResult
from topics.names import TopicSpec

log = logging.getLogger(__name__)

RUNNING: Literal["running"] = "running"
RECENT_MAX_BYTES = 32 * 1024 * 1024
"""Results kept for re-sending; the oldest go first (the journal keeps what matters)."""
CLAIM_TIMEOUT_S = 10.0
POLL_S = 0.005
PRUNE_AFTER_DEADLINE_S = 60.0
"""Journal entries are dropped from memory this long after their call's deadline: a call
delivered after its deadline is never run anyway."""


class RecentCalls:
    """Call ids running in this process, and the outgoing messages of those done lately."""

    def __init__(self, max_bytes: int = RECENT_MAX_BYTES) -> None:
        self._running: set[str] = set()
        self._done: OrderedDict[str, list[Outgoing]] = OrderedDict()
        self._bytes = 0
        self._max_bytes = max_bytes

    def seen(self, call_id: str) -> Literal["running"] | list[Outgoing] | None:
        """RUNNING, the messages to send again, or None for a call id not seen here."""
        if call_id in self._running:
            return RUNNING
        return self._done.get(call_id)

    def start(self, call_id: str) -> None:
        self._running.add(call_id)

    def abandon(self, call_id: str) -> None:
        """The call did not produce an answer (it raised, or expired before it started)."""
        self._running.discard(call_id)

    def finish(self, call_id: str, outgoing: list[Outgoing]) -> None:
        self._running.discard(call_id)
        self._done[call_id] = outgoing
        self._bytes += sum(len(o.value) for o in outgoing)
        while self._bytes > self._max_bytes and self._done:
            _, dropped = self._done.popitem(last=False)
            self._bytes -= sum(len(o.value) for o in dropped)


class Journal:
    """Every worker's copy of one tool's journal topic, plus writes to it.

    Read from the beginning with no consumer group (each worker must see every call id);
    `ready` is set once caught up, and the worker takes no call before that.
    """

    def __init__(self, bootstrap: Target, spec: TopicSpec, producer: AIOKafkaProducer) -> None:
        self.topic = spec.name
        self.ready = asyncio.Event()
        self._bootstrap = bootstrap
        self._producer = producer
        self._entries: dict[str, CallJournalEntry] = {}
        self._read_upto: dict[int, int] = {}

    async def close(self) -> None:
        await self._producer.stop()

    def get(self, tool_use_id: str) -> CallJournalEntry | None:
        return self._entries.get(tool_use_id)

    async def claim(self, call: ToolCall, worker: str) -> bool:
        """Write a `started` record and read the journal past it: True when it is the first
        `started` record of the call, so this worker runs it.

        The journal partition orders the records of one call id, so when two workers get
        the same call at once exactly one of them wins; a call already finished or
        claimed is never won again.
        """
        entry = CallJournalEntry(
            tool_use_id=call.tool_use_id,
            state="started",
            worker=worker,
            at=time.time(),
            deadline_at=call.deadline_at,
        )
        sent = await self._producer.send_and_wait(
            self.topic, encode(entry), key=encode_key(call.tool_use_id)
        )
        deadline = time.monotonic() + CLAIM_TIMEOUT_S
        while self._read_upto.get(sent.partition, 0) <= sent.offset:
            if time.monotonic() > deadline:
                return False  # not read back in time: not run (at most once)
            await asyncio.sleep(POLL_S)
        return self._entries.get(call.tool_use_id) == entry

    async def result_of(self, call: ToolCall) -> ToolResult | None:
        """The call's result once another worker's `finished` record arrives; None if none
        arrives before the call's deadline (that worker died, or is still running it)."""
        while time.time() < call.deadline_at:
            entry = self._entries.get(call.tool_use_id)
            if entry is not None and entry.result is not None:
                return entry.result
            await asyncio.sleep(POLL_S)
        return None

    def finished(self, call: ToolCall, result: ToolResult) -> Outgoing:
        """The record of the call's result, to publish together with the result itself."""
        entry = CallJournalEntry(
            tool_use_id=call.tool_use_id,
            state="finished",
            worker=result.worker,
            at=time.time(),
            deadline_at=call.deadline_at,
            result=result,
        )
        self._entries[call.tool_use_id] = entry
        return Outgoing(self.topic, call.tool_use_id, encode(entry))

    async def run(self) -> None:
        loaded = asyncio.Event()
        pruned = [time.monotonic()]

        def after_poll() -> None:
            if loaded.is_set() and not self.ready.is_set():
                self.ready.set()
                log.info("Journal %s loaded: %d calls.", self.topic, len(self._entries))
            if time.monotonic() - pruned[0] > PRUNE_AFTER_DEADLINE_S:
                self._prune(time.time())
                pruned[0] = time.monotonic()

        await follow(self._bootstrap, self.topic, self._apply, loaded, after_poll)

    def _apply(self, record: ConsumerRecord) -> None:
        self._read_upto[record.partition] = record.offset + 1
        if record.value is None:
            return
        try:
            entry = decode(record.value, CallJournalEntry)
        except DecodeError as exc:
            log.warning("Ignoring an unreadable journal record: %s.", str(exc)[:300])
            return
        known = self._entries.get(entry.tool_use_id)
        if known is None or (entry.state == "finished" and known.state != "finished"):
            self._entries[entry.tool_use_id] = entry  # the first claim, then the result

    def _prune(self, now: float) -> None:
        expired = [
            k for k, e in self._entries.items() if e.deadline_at < now - PRUNE_AFTER_DEADLINE_S
        ]
        for key in expired:
            del self._entries[key]


def repeat_answer(
    call: ToolCall,
    recent: RecentCalls,
    journal: Journal | None,
    answer: Callable[[ToolResult], Outgoing],
) -> list[Outgoing] | None:
    """What to send for a call id seen before (maybe nothing); None for a new one."""
    seen = recent.seen(call.tool_use_id)
    if seen is RUNNING:
        metrics.CALLS_DEDUPLICATED.labels(call.tool, "running").inc()
        return []
    if seen is not None:
        metrics.CALLS_DEDUPLICATED.labels(call.tool, "resent").inc()
        return seen
    entry = journal.get(call.tool_use_id) if journal else None
    if entry is None:
        return None
    if entry.result is not None:
        metrics.CALLS_DEDUPLICATED.labels(call.tool, "resent").inc()
        return [answer(entry.result)]
    return None  # started elsewhere: the claim settles it


async def answer_unclaimed(
    call: ToolCall, journal: Journal, answer: Callable[[ToolResult], Outgoing]
) -> list[Outgoing]:
    """For a call another worker claimed first: its result once it comes, never a run."""
    first = journal.get(call.tool_use_id)
    metrics.CALLS_DEDUPLICATED.labels(call.tool, "not_rerun").inc()
    log.warning(
        "Call %s of %s was started by %s; it is not run again here because the tool is not "
        "idempotent (its result is re-sent if it comes, else the orchestrator times it out).",
        call.tool_use_id,
        call.tool,
        first.worker if first else "another worker",
    )
    result = await journal.result_of(call)
    return [] if result is None else [answer(result)]
