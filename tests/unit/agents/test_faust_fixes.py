"""The faust #596 work-around, driven with stand-ins for aiokafka and faust's own consumer."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import pytest
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP

from agents.faust_fixes import Consumer

CHANGELOG = "app-conversations-changelog"
REQUESTS = TP("agent.requests", 0)
FRESH = TP("agent.requests", 1)
ZERO = TP("agent.steps", 0)
RESTORED = TP(CHANGELOG, 0)


class FakeKafka:
    """The few aiokafka consumer calls the seek uses."""

    def __init__(self, committed: dict[TP, int | None], beginning: dict[TP, int]) -> None:
        self._committed, self._beginning = committed, beginning
        self.sought: dict[TP, int] = {}
        self.lookups = 0

    async def committed(self, tp: TP) -> int | None:
        return self._committed[tp]

    def seek(self, tp: Any, offset: int) -> None:
        self.sought[TP(tp.topic, tp.partition)] = offset

    async def beginning_offsets(self, tps: list[Any]) -> dict[Any, int]:
        self.lookups += 1
        return {tp: self._beginning[TP(tp.topic, tp.partition)] for tp in tps}


def consumer() -> Consumer:
    c = Consumer.__new__(Consumer)  # no transport, thread or app: only what the fix reads
    c.app = SimpleNamespace(
        tables=SimpleNamespace(changelog_topics={CHANGELOG}),
        conf=SimpleNamespace(consumer_auto_offset_reset="earliest"),
        client_only=False,
    )
    c._thread = SimpleNamespace(_consumer=None)  # no aiokafka consumer: nothing assigned
    return c


async def test_every_input_partition_is_positioned_even_without_a_commit() -> None:
    c = consumer()
    kafka = FakeKafka(committed={REQUESTS: 5, FRESH: None, ZERO: 0}, beginning={FRESH: 3})
    c._thread = SimpleNamespace(_ensure_consumer=lambda: kafka)
    committed = await c._seek_to_committed([REQUESTS, FRESH, ZERO])
    assert committed == {REQUESTS: 5, FRESH: None, ZERO: 0}
    # aiokafka's own seek_to_committed would skip FRESH (no commit) and ZERO (committed 0).
    assert kafka.sought == {REQUESTS: 5, FRESH: 3, ZERO: 0}
    kafka.sought.clear()
    await c._seek_to_committed([FRESH])
    assert kafka.sought == {FRESH: 3} and kafka.lookups == 1  # the log start is cached


def record(tp: TP, offset: int) -> SimpleNamespace:
    return SimpleNamespace(topic=tp.topic, partition=tp.partition, offset=offset)


@pytest.fixture
def fetched(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """faust's getmany stand-in: hands out `batch`, passes on only `passes` of it."""
    plan: dict[str, Any] = {}

    async def wait_next_records(self: Any, wait_s: float) -> tuple[Any, Any]:
        return plan["batch"], None

    async def getmany(self: Any, wait_s: float) -> Any:
        records, _ = await self._wait_next_records(wait_s)
        for tp, recs in records.items():
            for r in recs:
                if (tp, r.offset) in plan["passes"]:
                    yield tp, r

    monkeypatch.setattr(faust_aiokafka.Consumer, "_wait_next_records", wait_next_records)
    monkeypatch.setattr(faust_aiokafka.Consumer, "getmany", getmany)
    return plan


async def test_a_record_faust_skips_makes_a_reseek_due_at_once(fetched: dict[str, Any]) -> None:
    c = consumer()
    c.flow_active = True
    fetched["batch"] = {REQUESTS: [record(REQUESTS, n) for n in range(3)]}
    fetched["passes"] = {(REQUESTS, 0), (REQUESTS, 2)}  # faust dropped offset 1 (paused...)
    got = [(tp, m.offset) async for tp, m in c.getmany(1.0)]
    assert got == [(REQUESTS, 0)]  # 2 must not be processed before 1 is read again
    assert c._reseek_due


async def test_while_a_reseek_is_due_only_changelog_records_are_delivered(
    fetched: dict[str, Any],
) -> None:
    c = consumer()
    c.flow_active = False  # so getmany does not try the seek itself here
    c._reseek_due = True
    fetched["batch"] = {REQUESTS: [record(REQUESTS, 4)], RESTORED: [record(RESTORED, 9)]}
    fetched["passes"] = {(REQUESTS, 4), (RESTORED, 9)}
    got = [(tp, m.offset) async for tp, m in c.getmany(1.0)]
    assert got == [(RESTORED, 9)]
    assert c._reseek_due


class Assigned:
    """aiokafka's assignment as `_partition_state` reads it, with seeks recorded."""

    def __init__(self, positions: dict[TP, int]) -> None:
        self.states = {tp: SimpleNamespace(position=p) for tp, p in positions.items()}
        assignment = SimpleNamespace(state_value=self.states.get)
        self._subscription = SimpleNamespace(subscription=SimpleNamespace(assignment=assignment))
        self.sought: dict[TP, int] = {}

    def seek(self, tp: TP, offset: int) -> None:
        self.sought[tp] = self.states[tp].position = offset


async def test_changelog_records_faust_drops_are_read_again(fetched: dict[str, Any]) -> None:
    c = consumer()
    kafka = Assigned({RESTORED: 13})  # aiokafka's position once offsets 9-12 are handed out
    c._thread = SimpleNamespace(_consumer=kafka)
    c.flow_active = True
    fetched["batch"] = {RESTORED: [record(RESTORED, n) for n in range(9, 13)]}
    fetched["passes"] = {(RESTORED, 9), (RESTORED, 10)}  # the flow stopped after offset 10
    got = [(tp, m.offset) async for tp, m in c.getmany(1.0)]
    assert got == [(RESTORED, 9), (RESTORED, 10)]
    assert kafka.sought == {RESTORED: 11}
    assert not c._reseek_due  # input partitions are not affected


async def test_a_changelog_partition_sought_meanwhile_keeps_its_position(
    fetched: dict[str, Any],
) -> None:
    c = consumer()
    kafka = Assigned({RESTORED: 13})
    c._thread = SimpleNamespace(_consumer=kafka)
    c.flow_active = True
    fetched["batch"] = {RESTORED: [record(RESTORED, n) for n in range(9, 13)]}
    fetched["passes"] = {(RESTORED, 9)}
    batch = c.getmany(1.0)
    assert (await anext(batch))[1].offset == 9
    kafka.states[RESTORED].position = 4  # table recovery seeks it while the batch is read
    assert [m async for m in batch] == []  # faust drops 10-12
    assert kafka.sought == {}  # 10 would skip what the recovery reads from 4


async def test_the_orchestrator_consumer_long_polls_briefly() -> None:
    """faust builds its aiokafka consumer with a 1.5 s fetch wait; the installed thread
    shortens it, so records left out of a fetch in flight wait at most that long."""
    from agents.faust_app import build_app
    from agents.faust_fixes import FETCH_MAX_WAIT_MS, ConsumerThread
    from config.settings import Settings

    app = build_app(Settings(topic_prefix="unit."))
    thread = app.consumer._thread
    assert isinstance(thread, ConsumerThread)
    kafka = thread._create_worker_consumer(app.transport)
    try:
        assert kafka._fetch_max_wait_ms == FETCH_MAX_WAIT_MS < 1500
    finally:
        await kafka.stop()


async def test_the_consumer_service_runs_its_calls_on_the_apps_loop_in_this_thread() -> None:
    """faust hands each fetch, commit and seek to a thread with its own loop; the installed
    service takes the app's loop, and a call runs in place: same thread, same loop."""
    import threading

    from agents.faust_app import build_app
    from config.settings import Settings

    app = build_app(Settings(topic_prefix="unit."))
    service = app.consumer._thread
    assert service.thread_loop is service.parent_loop is app.loop

    async def where() -> tuple[int, asyncio.AbstractEventLoop]:
        return threading.get_ident(), asyncio.get_running_loop()

    assert await service.call_thread(where) == (threading.get_ident(), asyncio.get_running_loop())
    assert await service.call_thread(lambda x: x + 1, 1) == 2  # plain functions too


async def test_before_commit_hooks_run_before_faust_flushes_and_commits(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """faust's `_commit_offsets` flushes the producer, then commits: a hook runs before
    both, on every commit of the app's consumer, and a hook answering False postpones
    that commit (faust's part does not run at all)."""
    from agents.faust_app import build_app
    from agents.faust_fixes import before_commit
    from config.settings import Settings

    order: list[str] = []
    ready = [True, False, True]

    async def faust_commit(self: Any, offsets: Any, start_new_transaction: bool = True) -> bool:
        order.append(f"flush and commit {dict(offsets)}")
        return True

    async def store_held_states() -> bool:
        order.append("store held states")
        return ready.pop(0)

    async def other_apps_hook() -> bool:
        order.append("the other app's hook")
        return True

    monkeypatch.setattr(faust_aiokafka.Consumer, "_commit_offsets", faust_commit)
    app = build_app(Settings(topic_prefix="unit."))
    other = build_app(Settings(topic_prefix="other."))
    before_commit(app, store_held_states)
    before_commit(other, other_apps_hook)
    assert await app.consumer._commit_offsets({REQUESTS: 7}) is True
    assert await app.consumer._commit_offsets({REQUESTS: 8}) is False
    assert await app.consumer._commit_offsets({REQUESTS: 9}) is True
    assert order == [
        "store held states",
        f"flush and commit { ({REQUESTS: 7}) }",
        "store held states",
        "store held states",
        f"flush and commit { ({REQUESTS: 9}) }",
    ]


async def test_a_postponed_commit_is_made_whole_by_the_next_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """faust takes the offsets it commits out of its acked list before the hook runs; a
    postponed commit puts them back, so the next commit covers them and what was acked
    meanwhile (without that the head of the list has a gap and the partition never
    commits again)."""
    from agents.faust_app import build_app
    from agents.faust_fixes import before_commit
    from config.settings import Settings

    committed: list[dict[TP, int]] = []

    async def faust_commit(self: Any, offsets: Any, start_new_transaction: bool = True) -> bool:
        committed.append(dict(offsets))
        self._committed_offset.update(offsets)  # what faust's own does once committed
        return True

    monkeypatch.setattr(faust_aiokafka.Consumer, "_commit_offsets", faust_commit)
    app = build_app(Settings(topic_prefix="unit."))
    kafka = app.consumer
    answers = [False, True]

    async def hook() -> bool:
        if answers[0] is False:  # acked while this postponed commit waits
            kafka._acked[REQUESTS].append(104)
            kafka._acked_index[REQUESTS].add(104)
        return answers.pop(0)

    before_commit(app, hook)
    kafka._committed_offset[REQUESTS] = 100
    kafka._acked[REQUESTS].extend([100, 101, 102, 103])
    kafka._acked_index[REQUESTS].update([100, 101, 102, 103])

    assert await kafka._commit_tps([REQUESTS], start_new_transaction=False) is False
    assert committed == [] and kafka._acked[REQUESTS] == [100, 101, 102, 103, 104]
    assert await kafka._commit_tps([REQUESTS], start_new_transaction=False) is True
    assert committed == [{REQUESTS: 105}]
    assert kafka._acked[REQUESTS] == [] and not kafka._acked_index[REQUESTS]


def test_a_hook_on_an_app_without_the_installed_consumer_is_refused() -> None:
    """Without `install(app)` faust's own consumer would commit without running the hook."""
    import faust

    from agents.faust_fixes import before_commit

    plain = faust.App("unit-plain", broker="kafka://127.0.0.1:1")

    async def hook() -> bool:
        return True

    with pytest.raises(RuntimeError, match="install"):
        before_commit(plain, hook)


def test_faust_stops_its_consumer_thread_as_the_override_assumes() -> None:
    """`faust_fixes.ConsumerThread.on_thread_stop` replaces faust's: the method queue's
    stop, then the aiokafka consumer's. A faust that does more there needs it revisited."""
    import inspect

    from faust.transport.drivers import aiokafka as faust_aiokafka

    source = inspect.getsource(faust_aiokafka.AIOKafkaConsumerThread.on_thread_stop)
    body = [
        line.strip()
        for line in source.splitlines()[1:]
        if line.strip() and not line.strip().startswith(("#", '"""'))
    ]
    assert body == [
        "await super().on_thread_stop()",
        "if self._consumer is not None:",
        "await self._consumer.stop()",
    ]
