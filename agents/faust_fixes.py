"""Keep faust-streaming 0.15.3 from losing input records around table recovery (#596).

The symptom: after a restart (or any rebalance), a record in an input topic can stay
unread until the process restarts again, and the partition's commit stops at it. Line
numbers below are faust-streaming 0.15.3 / aiokafka 0.14.0 as installed.

How a record is lost
--------------------
1. aiokafka moves a partition's fetch position past records the moment it hands them
   out: `FetchResult.getall` -> `_update_position` (aiokafka/consumer/fetcher.py:124-136,
   108-110). Nothing is re-read unless someone seeks back.

2. faust "pauses" a partition only by removing it from a set of active partitions
   (faust/transport/consumer.py:622-632); aiokafka is never paused, so it keeps fetching
   every assigned partition, input ones included, all through table recovery. faust then
   throws records away *after* aiokafka has handed them out:
   a. `Consumer.getmany` silently skips records of partitions that are not active
      (consumer.py:758-766), and drops the rest of a batch when the flow stops or the
      generation changes (consumer.py:748-757). The active set is shared, live, with the
      consumer thread, and aiokafka's `fetched_records` reads an *empty* set as "all
      partitions" (fetcher.py:1221), so when recovery pauses the last active partitions
      (recovery.py:475) during a fetch, buffered input records come back and are skipped.
   b. `app.flow_control.resume()` empties every stream queue (mode/utils/queues.py:97-108),
      discarding events already delivered, whose offsets `_drain_messages` has already
      recorded as read (consumer.py:1220-1223). At the end of recovery,
      `Recovery.on_recovery_completed` resumes the input partitions (recovery.py:649),
      then awaits `perform_seek()` (recovery.py:655) while the fetcher keeps delivering
      (the flow has been active since recovery.py:451-452), and only then clears the
      queues (recovery.py:659) and calls `consumer.resume_flow()` (recovery.py:660).
      Records fetched from the freshly sought position during that await land in a
      queue and are cleared; the fetch position is already past them.
   (Also: a delivery cancelled by `suspend_flow` still advances the read offset,
   consumer.py:1220-1223; streams drop events of an older generation or taken while flow
   control is suspended, streams.py:1286-1299 and faust/_cython/streams.pyx:181-193.)

3. faust's only repair is `perform_seek()` -> aiokafka `seek_to_committed()`
   (consumer.py:565-580), and it does not repair either case above:
   - it runs *before* the clear in 2b, so it cannot re-fetch what the clear discards;
   - aiokafka seeks only when the committed offset is truthy and positive
     (aiokafka/consumer/consumer.py:901), so a partition with no committed offset (or
     committed 0) keeps its advanced position. A fresh partition's first request is
     exactly that case, and it is why "committing initial offsets (0) and re-seeking"
     did not help while a restart did (a new consumer starts at auto_offset_reset).

Never re-fetched, the record is never acked either. Its partition's commits then stop at
it until a restart, or, worse, pass over it for good once a later record there is acked:
`_new_offset` refuses a gap at the head only when the lowest acked offset is more than
one past the committed offset, and not at all before the first commit
(consumer.py:1138-1141).

The fix
-------
`Consumer` below, a subclass of faust's aiokafka consumer, installed with `install(app)`:

- faust calls `resume_flow()` right after each `flow_control.resume()`, that is right
  after each queue clear (recovery.py:328-329, 451-452, 478-479, 493-494, 545-546,
  659-660); the subclass then marks a re-seek as due. It does the same as soon as
  faust's `getmany` passes over an input record that aiokafka handed out (case 2a).
- While a re-seek is due, `getmany` yields no input record (changelog records still flow,
  so recovery is unaffected). Before its next fetch the fetcher task itself seeks every
  assigned input partition to its committed offset (0 included) or, when it has none,
  to where a new consumer would start (consumer_auto_offset_reset), and resets faust's
  read offsets to match, as `perform_seek` does. faust's own `perform_seek` is left as
  it is: every call to it is followed by a `resume_flow()`, hence by this re-seek.

Why it is correct: every input record that aiokafka hands out either reaches a stream
queue or is thrown away by one of the paths above, and each path marks a re-seek as due
before any later record of the batch is passed on (a clear through `resume_flow`, which
faust calls synchronously after it). From then on no input record is delivered until
the seek, and records of a partition are processed in offset order, so nothing past a
lost record is processed, acked or committed before the seek: the committed offset is
at or below every lost record, and seeking to it reads them all again. Records that
were processed but not yet committed may be read twice, the at-least-once contract
faust already has on every rebalance. (A delivery that is blocked inside the conductor
at the moment of a clear can likewise be processed twice, never lost.) Steady-state
consumption is unchanged: these paths only run during rebalances and recovery.

Changelog records
-----------------
The same drops hit the table's changelog partitions, and there a lost record can stall
table recovery for good. Recovery seeks each changelog partition once, at its start
(recovery.py:433-439), then resumes the flow and waits to have read up to the high-water
marks it noted. A fetch that was already waiting when the rebalance began (its active set
emptied at the revoke, so "all partitions" to aiokafka) can wake with the records read
from that fresh position while the flow is still stopped; faust drops them in case 2a,
and aiokafka's position is past them. No later record comes (nobody writes a partition
while it recovers), so the recovery waits for ever, logging "No event received for active
tp ... since recovery start" ("orchestrator-kill-one-of-two" in `bench/chaos` caught it).
So `getmany` also notes every changelog record that aiokafka handed out and faust did not
pass on, and at the end of the batch seeks its partition back to the first of them,
unless the partition was sought (by the recovery) or reassigned since the records were
handed out: then the new position is the one wanted. Read twice, a changelog record is
harmless: recovery skips offsets it has already applied (recovery.py:874).

Also here, for speed: `before_commit(app, hook)` runs `hook` just before faust commits
input offsets (and before it flushes its producer for that commit), which lets the
orchestrator hold state writes until then (`agents.state_writes`). And `ConsumerThread`
runs faust's consumer service on the app's own event loop instead of a thread, and
shortens its fetch long-poll (see its docstring).
The analysis above was made on faust's threaded consumer; on one loop the same paths run
in the same order, only without another thread interleaving with them.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import weakref
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from functools import cached_property
from typing import Any

import aiokafka
import faust
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP, Message

from agents.eager_wait import EagerWaitFirst
from topics import clients

log = logging.getLogger(__name__)
RESEEK_RETRY_S = 1.0


FETCH_MAX_WAIT_MS = 100
"""The orchestrator's fetch long-poll (faust hard-codes 1,500 ms): see `ConsumerThread`.
An idle platform on 2 cores, every fetch wait at 20 ms: broker 38% of a core, orchestrator
6.5%; workers at 500 ms: broker 29.6%; this at 100 ms as well: broker 14.0%,
orchestrator 3.4%."""


class ConsumerThread(faust_aiokafka.AIOKafkaConsumerThread):
    """faust's consumer service, run on the app's own event loop, with a short long-poll.

    No thread. faust runs aiokafka in a thread of its own with a second event loop, and
    hands every fetch, commit and seek to it through a method queue: a thread-safe call
    in, a thread-safe reply out, and the GIL passed between the threads both ways. On 2
    cores that hand-off was 1.0-1.1 ms (p50; 5-12 ms at p99) of each record's way from
    aiokafka to the agent, and the thread ~8% of the orchestrator's CPU. Here the service
    gets the app's loop as its "thread loop" and is started as a task, not a thread, and
    `call_thread` awaits the call in place: the same faust and aiokafka code runs, minus
    the crossings. (The hand-off went from 1.0 to 0.14 ms p50, 3 A/B pairs of 400 hops.)

    Short long-poll: aiokafka keeps one fetch per broker in flight and leaves out of it the
    partitions whose records are still buffered (handed over, not yet taken by faust's
    agent). New records on those partitions wait until that fetch returns: up to faust's
    1.5 s when the partitions it covers stay quiet, which showed as 50-100 ms waits for
    results on a busy orchestrator. A short long-poll bounds the wait; an idle
    orchestrator pays with a fetch every FETCH_MAX_WAIT_MS, and the broker with its CPU
    (20 ms cost the broker 24% of a core more than 100 ms on 2 cores, for no gain in the
    fan-out phase: 864 / 859 ms and model time p90 70 / 86 ms at 20 ms, 847 / 857 ms
    and 69 / 81 ms at 100 ms, with the workers' wait at 500 ms).
    """

    _serving: asyncio.Future[None] | None = None
    """The service's run (`_serve`) as a task: held here, as the loop keeps only a weak
    reference to its tasks."""

    def __init__(self, consumer: Any, *, loop: asyncio.AbstractEventLoop, **kwargs: Any) -> None:
        super().__init__(consumer, loop=loop, thread_loop=loop, **kwargs)

    async def start(self) -> None:
        """What ServiceThread.start does, with the service's run as a task of this loop."""
        assert not self._thread_started.is_set()
        self._thread_started.set()
        self._thread_running = asyncio.Future(loop=self.parent_loop)
        self._serving = asyncio.ensure_future(self._serve())
        try:
            await self._thread_running  # set (or failed) by _serve once started
        finally:
            self._thread_running = None

    async def call_thread(self, fun: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        result = fun(*args, **kwargs)
        return await result if inspect.isawaitable(result) else result

    async def on_thread_stop(self) -> None:
        """faust's (stop the method queue, then the aiokafka consumer), with the consumer
        stopped by `clients.stop_consumer`, which finishes where aiokafka's own stop is cut
        short while the broker is gone. Cut short, it cancelled this service's run, and
        faust then waited out mode's 60 s shutdown timeouts before exiting."""
        # The method after faust's AIOKafkaConsumerThread.on_thread_stop: mode's queue stop.
        await super(faust_aiokafka.AIOKafkaConsumerThread, self).on_thread_stop()
        if self._consumer is not None:
            await clients.stop_consumer(self._consumer)

    async def _gather_remaining_tasks(self) -> None:
        """mode cancels every task left on the thread's loop when the thread ends; on the
        app's own loop those are the app's tasks, which faust stops in its own order."""

    def _create_worker_consumer(self, transport: Any) -> aiokafka.AIOKafkaConsumer:
        consumer = super()._create_worker_consumer(transport)
        consumer._fetch_max_wait_ms = FETCH_MAX_WAIT_MS  # read by start(), which builds the fetcher
        return consumer


CommitHook = Callable[[], Awaitable[bool]]
"""Runs before a commit of input offsets; False postpones that commit (nothing is lost:
the offsets are committed by a later commit)."""
_BEFORE_COMMIT: weakref.WeakKeyDictionary[faust.App, list[CommitHook]] = weakref.WeakKeyDictionary()


def before_commit(app: faust.App, hook: CommitHook) -> None:
    """Run `hook` before every commit of input offsets by `app` (installed with `install`).

    Every commit goes through `Consumer._commit_offsets` (the commit timer, rebalances via
    `wait_empty`, shutdown), which flushes faust's producer after the hooks and then
    commits. That flush is best-effort for faust's own buffer (table changelog writes), so
    a hook that needs its writes on the broker first waits for their acknowledgements
    itself, and returns False to postpone the commit when they are not all in.
    """
    if app.transport.Consumer is not Consumer:
        raise RuntimeError("before_commit() needs install(app) first: faust's own consumer")
    _BEFORE_COMMIT.setdefault(app, []).append(hook)


class Consumer(EagerWaitFirst, faust_aiokafka.Consumer):
    """faust's aiokafka consumer that re-reads what faust discards during recovery, runs
    the `before_commit` hooks, and hands records to the streams without a task each
    (`agents.eager_wait`)."""

    _postponed: bool = False

    async def _commit_offsets(
        self, offsets: Mapping[TP, int], start_new_transaction: bool = True
    ) -> bool:
        for hook in _BEFORE_COMMIT.get(self.app, ()):
            if not await hook():
                self._postponed = True
                return False
        return await super()._commit_offsets(offsets, start_new_transaction=start_new_transaction)

    async def _commit_tps(self, tps: Iterable[TP], start_new_transaction: bool) -> bool:
        """faust's commit, with what a postponed one took from the acked offsets put back.

        faust takes the offsets it is about to commit out of its acked lists before it
        commits (`_new_offset`). Left out after a postponed commit, they would be a gap at
        the head of the partition's acked offsets, and faust never commits past such a gap:
        the partition's commits would stop until the next rebalance.
        """
        tps = list(tps)
        saved = {tp: (list(self._acked[tp]), self._gap[tp].copy()) for tp in tps}
        self._postponed = False
        try:
            return await super()._commit_tps(tps, start_new_transaction=start_new_transaction)
        finally:
            if self._postponed:
                self._put_back(saved)

    def _put_back(self, saved: Mapping[TP, tuple[list[int], Any]]) -> None:
        for tp, (acked, gaps) in saved.items():
            merged = sorted(set(acked).union(self._acked[tp]))  # and what was acked meanwhile
            self._acked[tp][:] = merged
            self._acked_index[tp].update(merged)
            self._gap[tp] = gaps | self._gap[tp]

    def _new_consumer_thread(self) -> ConsumerThread:
        return ConsumerThread(self, loop=self.loop, beacon=self.beacon)

    _reseek_due: bool = False
    _last_batch: Mapping[TP, list[Any]] | None = None
    _drained: Mapping[TP, tuple[Any, int]] | None = None

    @cached_property
    def _log_starts(self) -> dict[TP, int]:
        return {}

    def resume_flow(self) -> None:
        super().resume_flow()
        # Called right after app.flow_control.resume() has emptied the stream queues.
        if not self.app.client_only:
            self._reseek_due = True

    async def getmany(self, timeout: float) -> AsyncIterator[tuple[TP, Message]]:  # noqa: ASYNC109
        if self._reseek_due and self.flow_active and not await self._reseek():
            await asyncio.sleep(RESEEK_RETRY_S)
            return
        self._last_batch = self._drained = None
        changelogs = self.app.tables.changelog_topics
        batch = super().getmany(timeout)
        unseen: dict[TP, deque[int]] | None = None  # offsets of the batch not yet seen
        dropped: dict[TP, int] = {}  # changelog partition -> first offset faust dropped
        try:
            async for tp, message in batch:
                if unseen is None:
                    unseen = self._offsets(self._last_batch)
                offsets = unseen.get(tp)
                while offsets and offsets[0] != message.offset:
                    # faust skipped it (partition paused, flow stopped...)
                    self._skipped(tp, offsets.popleft(), changelogs, dropped)
                if offsets:
                    offsets.popleft()
                if tp.topic in changelogs or not self._reseek_due:
                    yield tp, message  # else: the due re-seek will fetch it again
        finally:
            await batch.aclose()
            # faust skipped the rest of the batch (flow stopped, generation changed...)
            for tp, offsets in (unseen or self._offsets(self._last_batch)).items():
                if offsets:
                    self._skipped(tp, offsets[0], changelogs, dropped)
            if dropped:
                self._seek_back(dropped)

    def _skipped(self, tp: TP, offset: int, changelogs: set[str], dropped: dict[TP, int]) -> None:
        if tp.topic in changelogs:
            dropped.setdefault(tp, offset)
        else:
            self._reseek_due = True

    @staticmethod
    def _offsets(records: Mapping[TP, list[Any]] | None) -> dict[TP, deque[int]]:
        return {tp: deque(r.offset for r in recs) for tp, recs in (records or {}).items()}

    async def _wait_next_records(self, timeout: float) -> tuple[Any, Any]:  # noqa: ASYNC109
        records, active_partitions = await super()._wait_next_records(timeout)
        # No await since aiokafka handed these out: the positions are the ones it left.
        self._last_batch = records
        changelogs = self.app.tables.changelog_topics
        kafka = self._thread._consumer
        self._drained = {
            tp: (state, state.position)
            for tp in records or ()
            if tp.topic in changelogs and (state := _partition_state(kafka, tp)) is not None
        }
        return records, active_partitions

    def _seek_back(self, dropped: Mapping[TP, int]) -> None:
        """Seek changelog partitions back to the first record faust dropped of them.

        Table recovery seeks its changelog partitions once, at its start, and then waits to
        read up to their high-water marks. A fetch that was waiting across a rebalance can
        hand out the records read from that fresh position while faust's flow is still
        stopped, and faust drops them: nothing would read them again, and the recovery
        would wait for them for ever. A partition sought by someone else (the recovery)
        since its records were handed out keeps that position.
        """
        kafka = self._thread._consumer
        for tp, offset in dropped.items():
            state = _partition_state(kafka, tp)
            drained = (self._drained or {}).get(tp)
            if state is None or drained is None or drained != (state, state.position):
                continue
            kafka.seek(tp, offset)
            log.info(
                "Re-sought changelog partition %s[%d] to offset %d, its first record that "
                "was fetched but not processed",
                tp.topic,
                tp.partition,
                offset,
            )

    async def _reseek(self) -> bool:
        """Seek every assigned input partition to its committed offset (fetcher task)."""
        self._reseek_due = False
        tps = {tp for tp in self.assignment() if not self._is_changelog_tp(tp)}
        try:
            committed = await self._thread.call_thread(self._seek_to_committed, tps)
        except Exception as exc:  # e.g. a rebalance revoked a partition meanwhile
            self._reseek_due = True
            log.warning("Re-seeking input partitions failed (will retry): %r", exc)
            return False
        for tp, offset in committed.items():  # as perform_seek does
            self._read_offset[tp] = offset if offset is not None and offset >= 0 else None
            if offset is not None:
                self._committed_offset[tp] = offset or None
        log.info(
            "Re-sought input partitions to their committed offsets (faust #596): %s",
            {f"{tp.topic}[{tp.partition}]": offset for tp, offset in sorted(committed.items())},
        )
        return True

    async def _seek_to_committed(self, tps: Iterable[TP]) -> dict[TP, int | None]:
        """Runs as a call of the consumer service: unlike aiokafka's seek_to_committed
        (consumer.py:901), it also positions partitions with no committed offset, or
        committed offset 0."""
        consumer: aiokafka.AIOKafkaConsumer = self._thread._ensure_consumer()
        committed: dict[TP, int | None] = {}
        for tp in tps:
            offset = committed[tp] = await consumer.committed(tp)
            if offset is not None and offset >= 0:
                consumer.seek(tp, offset)
        unset = [tp for tp, offset in committed.items() if offset is None or offset < 0]
        for tp, offset in (await self._reset_offsets(consumer, unset)).items():
            consumer.seek(tp, offset)
        return committed

    async def _reset_offsets(
        self, consumer: aiokafka.AIOKafkaConsumer, tps: list[TP]
    ) -> Mapping[TP, int]:
        """Where a consumer without a committed offset starts: consumer_auto_offset_reset.

        Looked up, then sought, because aiokafka's seek_to_beginning/end leave the position
        unset meanwhile, and faust's livelock check asserts on it. The lookup waits behind
        the fetch long-poll (up to 1.5 s), so log start offsets are cached: they only grow,
        and a stale one is corrected by aiokafka's out-of-range reset to the earliest.
        """
        reset = self.app.conf.consumer_auto_offset_reset
        if not tps or reset not in ("earliest", "latest"):
            return {}
        cache = self._log_starts if reset == "earliest" else {}
        missing = [aiokafka.TopicPartition(tp.topic, tp.partition) for tp in tps if tp not in cache]
        if missing:
            lookup = consumer.beginning_offsets if reset == "earliest" else consumer.end_offsets
            cache.update(
                {TP(tp.topic, tp.partition): o for tp, o in (await lookup(missing)).items()}
            )
        return {tp: cache[tp] for tp in tps}


def _partition_state(kafka: aiokafka.AIOKafkaConsumer | None, tp: TP) -> Any | None:
    """aiokafka's state of `tp` (its fetch position) while assigned, else None.

    The state object is new with every assignment, so the same object with the same
    position means the partition was neither reassigned nor sought meanwhile.
    """
    subscription = kafka._subscription.subscription if kafka is not None else None
    assignment = subscription.assignment if subscription is not None else None
    return assignment.state_value(tp) if assignment is not None else None


def install(app: faust.App) -> None:
    """Make `app` consume through `Consumer`; call before the app starts."""
    if getattr(app, "_consumer", None) is not None:
        raise RuntimeError("install() must run before the app creates its consumer")
    transport = app.transport
    if not isinstance(transport, faust_aiokafka.Transport):
        raise TypeError(f"expected faust's aiokafka transport, got {type(transport).__name__}")
    transport.Consumer = Consumer  # type: ignore[misc]  # the transport builds app.consumer
