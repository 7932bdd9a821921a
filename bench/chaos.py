"""Chaos harness: prove "zero lost conversations under kill -9", one scenario at a time.

    .venv/bin/python -m bench.chaos [--conversations N] [--rate R] [--scenarios a,b]
                                    [--seed S] [--json PATH]

Per scenario: a project broker (shared by the scenarios; `broker-kill` gets its own to
kill, `leader-kill` a 3-node cluster with topics replicated 3x), the platform started
through its CLI (`agentstream.stack`), conversations submitted at a steady rate by a
plain aiokafka producer exactly as docs/protocol.md says, responses read by a plain
aiokafka consumer, and the scenario's fault applied at a seeded random moment in the
middle of the submission window. Then it waits, on conditions with deadlines, until
every conversation is answered or past its deadline and the consumer groups have
drained, and reports what was lost, duplicated or executed twice.
`tests/chaos/test_chaos_short.py` runs the same functions, smaller.

Per scenario (one JSON line, one table row; all in bench/results/chaos-<time>.json):
  never_answered       sent (acknowledged by the broker) but no response by its deadline
  duplicate_responses  conversations with more than one response
  timed_out            first response `timed_out`
  tools_executed_more_than_once  tool_use_ids the chaos tool's ledger shows run twice
  answers_with_failed_calls      answers reporting a failed chaos call (informational:
                       a non-idempotent call interrupted by a kill is never re-run)
  kill_to_resumed_s    fault -> first completion produced after it for a conversation
                       in flight at it (`resumed_after`); per fault also
                       kill_to_received_s, the same by when the client read it
  in_flight_answered_s fault -> last conversation in flight at it answered (the tail)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import random
import re
import shutil
import signal
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError
from aiokafka.partitioner import DefaultPartitioner
from aiokafka.structs import ConsumerRecord

from agentstream import broker
from agentstream.processes import signal_pid
from agentstream.stack import Stack, StackConfig, orchestrator_name, wait_for_tools
from bench.chaos_names import LEDGER_ENV, TOOL_NAME
from config.settings import Settings
from topics.admin import ensure_topics
from topics.names import Topics

ROOT = Path(__file__).resolve().parents[1]
RESULTS_DIR = ROOT / "bench" / "results"
LOG_ROOT = broker.CACHE_DIR / "chaos-logs"
TOOL_WORKERS = 2
WORKER_CONCURRENCY = 16
RESTART_DELAY_S = 3.0
SIGTERM_EXIT_TIMEOUT_S = 60.0
READY_TIMEOUT_S = 120.0
FAULT_WINDOW = (0.25, 0.75)
"""Faults land at a random moment between these fractions of the submission window."""
TOOL_FAILED = re.compile(rf"\b{TOOL_NAME}\([^)]*\) failed: ([^;]*)")
"""How the local model's final answer reports a failed call (policy.results_summary)."""
STACK_ENV = {"AGENTSTREAM_MODEL_REQUESTS_PER_S": "500"}
"""The local model has no rate limit; the model worker's default 50/s would be the bottleneck."""


# --------------------------------------------------------------------------- the load


@dataclass(frozen=True)
class Load:
    """How many conversations, how fast, and how long each may take before it counts lost."""

    conversations: int = 1000
    rate: float = 33.0
    timeout_s: float = 90.0
    """Each request's own `timeout_s`: past it the platform must answer `timed_out`."""
    margin_s: float = 30.0
    """Beyond the request's timeout, how long to wait before calling it never answered."""
    drain_timeout_s: float = 30.0
    seed: int = 0

    @property
    def window_s(self) -> float:
        return self.conversations / self.rate


def prompt_for(index: int, rng: random.Random) -> str:
    """One or two chaos-tool calls in the first model turn (the local model splits on 'and')."""
    first = f"record a chaos entry for order {index} item 1"
    if rng.random() < 0.5:
        return first
    return f"{first} and record a chaos entry for order {index} item 2"


def request_payload(conversation_id: str, prompt: str, timeout_s: float) -> bytes:
    """An AgentRequest as any Kafka client would write it (docs/protocol.md), as JSON."""
    request = {
        "schema_version": 1,
        "conversation_id": conversation_id,
        "prompt": prompt,
        "tools": [TOOL_NAME],
        "timeout_s": timeout_s,
    }
    return json.dumps(request).encode()


@dataclass(frozen=True)
class Answer:
    """One response as read: when it arrived (monotonic), its status, when it was produced
    (the record's CreateTime, unix seconds: the orchestrator's clock, on this host)."""

    received: float
    status: str
    produced: float
    tool_failed: str = ""
    """Why the answer says a chaos call failed (e.g. interrupted, then timed out)."""


@dataclass
class Tracker:
    """What was sent and what came back, timed with the monotonic clock."""

    sent: dict[str, float] = field(default_factory=dict)
    deadlines: dict[str, float] = field(default_factory=dict)
    send_failed: dict[str, str] = field(default_factory=dict)
    responses: dict[str, list[Answer]] = field(default_factory=dict)
    read_upto: dict[int, int] = field(default_factory=dict)
    undecodable: int = 0

    def submitted(self, cid: str, deadline_s: float) -> None:
        now = time.monotonic()
        self.sent[cid] = now
        self.deadlines[cid] = now + deadline_s

    def delivery(self, cid: str, future: asyncio.Future[Any]) -> None:
        """A request the broker never acknowledged is not the platform's to lose."""
        if future.cancelled() or future.exception() is not None:
            self.send_failed[cid] = repr(None if future.cancelled() else future.exception())
            self.sent.pop(cid, None)
            self.deadlines.pop(cid, None)

    def answered(self, record: ConsumerRecord) -> None:
        self.read_upto[record.partition] = record.offset + 1
        try:
            response = json.loads(record.value or b"")
            cid, status = str(response["conversation_id"]), str(response["status"])
        except (ValueError, KeyError, TypeError):
            self.undecodable += 1
            return
        failed = TOOL_FAILED.search(str(response.get("text") or ""))
        answer = Answer(
            time.monotonic(), status, record.timestamp / 1000, failed[1][:200] if failed else ""
        )
        self.responses.setdefault(cid, []).append(answer)

    def in_flight(self) -> set[str]:
        return {cid for cid in self.sent if cid not in self.responses}

    def settled(self, now: float) -> bool:
        """Every sent conversation is answered or past its deadline plus margin."""
        return all(cid in self.responses or now > self.deadlines[cid] for cid in self.sent)


# --------------------------------------------------------------------------- plain Kafka


def plain_producer(bootstrap: str) -> AIOKafkaProducer:
    """A plain producer, as an upstream team would configure one; rides out a broker restart."""
    return AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        acks="all",
        enable_idempotence=True,
        linger_ms=5,
        request_timeout_ms=90_000,
    )


async def open_reader(bootstrap: str, topic: str, partitions: int) -> AIOKafkaConsumer:
    """A group-less consumer on every partition of `topic`, from the beginning."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    tps = [TopicPartition(topic, p) for p in range(partitions)]
    consumer.assign(tps)
    await consumer.seek_to_beginning(*tps)
    return consumer


async def read_responses(consumer: AIOKafkaConsumer, tracker: Tracker) -> None:
    """Feed every response into the tracker until cancelled."""
    while True:
        batch = await consumer.getmany(timeout_ms=200)
        for records in batch.values():
            for record in records:
                tracker.answered(record)


async def submit_all(
    producer: AIOKafkaProducer, topic: str, tracker: Tracker, load: Load, run_id: str
) -> None:
    """Publish `load.conversations` requests at `load.rate`, keyed by conversation_id.

    A send blocks while the producer's buffer is full (broker down); the loop then catches
    up, so the submission keeps its total count even when it cannot keep its pace.
    """
    rng = random.Random(load.seed)
    began = time.monotonic()
    for i in range(load.conversations):
        await asyncio.sleep(max(0.0, began + i / load.rate - time.monotonic()))
        cid = f"chaos-{run_id}-{i:05d}"
        payload = request_payload(cid, prompt_for(i, rng), load.timeout_s)
        future = await producer.send(topic, payload, key=cid.encode())
        tracker.submitted(cid, load.timeout_s + load.margin_s)
        future.add_done_callback(lambda f, cid=cid: tracker.delivery(cid, f))


class Inspector:
    """One admin client and one group-less consumer, kept for the run, to read group state
    and end offsets (short-lived aiokafka consumers race their own shutdown)."""

    def __init__(self, bootstrap: str) -> None:
        self.admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=5000)
        self.consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)

    async def start(self) -> None:
        await self.admin.start()
        await self.consumer.start()

    async def stop(self) -> None:
        await self.consumer.stop()
        await self.admin.close()

    async def group_members(self, group: str) -> int:
        """Members of a consumer group once it is Stable (0 while it rebalances or is empty)."""
        [response] = await self.admin.describe_consumer_groups([group])
        described = response.to_object()["groups"][0]
        return len(described["members"]) if described["state"] == "Stable" else 0

    async def end_offsets(self, topics: list[str]) -> dict[TopicPartition, int]:
        await self.consumer.topics()  # refreshes metadata, so new topics have partitions
        tps = [
            TopicPartition(t, p)
            for t in topics
            for p in self.consumer.partitions_for_topic(t) or []
        ]
        return await self.consumer.end_offsets(tps) if tps else {}

    async def group_lag(self, group: str, topics: list[str]) -> int:
        """Records of `topics` the group has not committed yet (end offset minus committed)."""
        committed = await self.admin.list_consumer_group_offsets(group)
        done = {tp: meta.offset for tp, meta in committed.items() if meta.offset >= 0}
        ends = await self.end_offsets(topics)
        return sum(max(0, end - done.get(tp, 0)) for tp, end in ends.items())


async def wait_for(
    check: Callable[[], Awaitable[bool]], timeout_s: float, what: str, poll_s: float = 0.25
) -> None:
    """Re-check an async condition until it holds; TimeoutError naming `what` past the deadline."""
    deadline = time.monotonic() + timeout_s
    while True:
        with contextlib.suppress(KafkaError, OSError, TimeoutError):  # broker mid-restart
            if await check():
                return
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} not reached within {timeout_s:g}s")
        await asyncio.sleep(poll_s)


# --------------------------------------------------------------------------- brokers


class BrokerHandle(Protocol):
    """Where the platform's Kafka is, and how to give it back at the end."""

    @property
    def bootstrap(self) -> str: ...

    def stop(self) -> None: ...


@dataclass
class ExternalBroker:
    """A broker someone else owns (the test suite's `kafka` fixture): never killed here."""

    bootstrap: str

    def stop(self) -> None:
        """Not ours to stop."""


@dataclass
class LocalBroker:
    """A project broker in its own temp dir, so it can be SIGKILLed and restarted in place."""

    home: Path
    info: broker.BrokerInfo

    @classmethod
    def start(cls) -> LocalBroker:
        home = Path(tempfile.mkdtemp(prefix="agentstream-chaos-broker-"))
        try:
            return cls(home, broker.start(home))
        except BaseException:
            shutil.rmtree(home, ignore_errors=True)
            raise

    @property
    def bootstrap(self) -> str:
        return self.info.bootstrap_servers

    def kill(self) -> bool:
        return signal_pid(self.info.pid, broker.MAIN_CLASS, signal.SIGKILL)

    def restart(self) -> None:
        """Same data dir, same client port (clients keep their bootstrap address)."""
        self.info = broker.start(self.home, self.info.port)

    def stop(self) -> None:
        broker.stop(self.home)
        shutil.rmtree(self.home, ignore_errors=True)


class ScenarioUnavailable(RuntimeError):
    """The scenario needs something this checkout does not have yet."""


CLUSTER_NODES = 3
CLUSTER_REPLICATION = {"replication_factor": 3, "min_insync_replicas": 2}
"""One node may die without losing an acknowledged write or refusing acks=all writes."""


def cluster_available() -> bool:
    """True where agentstream/broker.py can start a cluster and kill one of its nodes."""
    return all(hasattr(broker, f) for f in ("start_cluster", "kill_node", "partition_leader"))


@dataclass
class ClusterBroker:
    """For `leader-kill`: a 3-node cluster from `broker.start_cluster`, topics replicated 3x.

    Uses `start_cluster(home, nodes)`, `kill_node(home, node_id)` and
    `async partition_leader(bootstrap, topic, partition)` from agentstream/broker.py;
    without them the scenario stays registered and fails with ScenarioUnavailable.
    """

    home: Path
    info: Any

    @classmethod
    def start(cls) -> ClusterBroker:
        if not cluster_available():
            raise ScenarioUnavailable(
                "leader-kill needs broker.start_cluster, kill_node and partition_leader "
                "(a 3-node cluster), which agentstream/broker.py does not provide"
            )
        home = Path(tempfile.mkdtemp(prefix="agentstream-chaos-cluster-"))
        try:
            return cls(home, broker.start_cluster(home, nodes=CLUSTER_NODES))
        except BaseException:
            broker.stop(home)
            shutil.rmtree(home, ignore_errors=True)
            raise

    @property
    def bootstrap(self) -> str:
        return str(self.info.bootstrap_servers)

    async def leader(self, topic: str, partition: int) -> int:
        return int(await broker.partition_leader(self.bootstrap, topic, partition))

    def kill_node(self, node_id: int) -> None:
        broker.kill_node(self.home, node_id)

    def stop(self) -> None:
        broker.stop(self.home)  # every node recorded in home, by PID
        shutil.rmtree(self.home, ignore_errors=True)


# --------------------------------------------------------------------------- faults


@dataclass
class FaultRecord:
    """One fault: what was done, when, and which conversations were in flight then."""

    action: str
    at: float
    """Monotonic time of the signal (deadlines and receive times use this clock)."""
    wall: float
    """The same moment in unix seconds, to compare with records' CreateTime."""
    in_flight: set[str]
    note: str = ""


@dataclass
class Target:
    """What a fault acts on: the running stack, its broker, and the load's bookkeeping."""

    stack: Stack
    broker: BrokerHandle
    tracker: Tracker
    rng: random.Random
    faults: list[FaultRecord] = field(default_factory=list)
    gone_for_good: set[str] = field(default_factory=set)
    began: float = 0.0
    began_wall: float = 0.0
    log_marks: dict[str, int] = field(default_factory=dict)

    def load_started(self) -> None:
        """Remember when the load began and how long each log was, so only errors logged
        under load are reported (start-up noise on a fresh broker is not a finding)."""
        self.began, self.began_wall = time.monotonic(), time.time()
        for name, proc in self.stack.processes.items():
            self.log_marks[name] = proc.log_path.stat().st_size if proc.log_path.exists() else 0

    def check_alive(self) -> None:
        """Fail fast, with the log tail, when a process died before any fault was applied."""
        dead = sorted(set(self.stack.dead()) - self.gone_for_good)
        if dead:
            tail = self.stack.log_tail(dead[0], lines=5)
            raise RuntimeError(f"{', '.join(dead)} exited unexpectedly; {dead[0]}:\n{tail}")

    def mark(self, action: str) -> FaultRecord:
        record = FaultRecord(action, time.monotonic(), time.time(), self.tracker.in_flight())
        self.faults.append(record)
        return record

    async def kill(
        self, name: str, sig: signal.Signals = signal.SIGKILL, timeout_s: float = 30.0
    ) -> FaultRecord:
        """Signal a stack process, recording the fault at the moment of the signal."""
        record = self.mark(f"{sig.name} {name}")
        if await asyncio.to_thread(self.stack.kill, name, sig, timeout_s):
            record.note = f"exited {time.monotonic() - record.at:.1f}s after {sig.name}"
        else:
            record.note = f"still running {timeout_s:g}s after {sig.name}, so SIGKILLed"
            await asyncio.to_thread(self.stack.kill, name, signal.SIGKILL)
        self.gone_for_good.add(name)
        return record

    async def start_again(self, name: str, record: FaultRecord) -> None:
        await asyncio.to_thread(self.stack.start_again, name)
        self.gone_for_good.discard(name)
        record.note += f"; restarted {time.monotonic() - record.at:.1f}s after the fault"


Fault = Callable[[Target], Awaitable[None]]


def tool_worker_names(stack: Stack) -> list[str]:
    return [n for n in stack.processes if n.startswith(f"worker-{TOOL_NAME}-")]


async def kill_tool_worker(target: Target) -> None:
    """SIGKILL one of the chaos tool's workers; it stays dead."""
    await target.kill(target.rng.choice(sorted(tool_worker_names(target.stack))))


async def kill_model_worker(target: Target) -> None:
    """SIGKILL the only model worker; start it again after RESTART_DELAY_S."""
    await _kill_and_restart(target, "model-worker-1")


async def kill_orchestrator(target: Target) -> None:
    """SIGKILL the only orchestrator; start it again after RESTART_DELAY_S."""
    await _kill_and_restart(target, orchestrator_name(0))


async def kill_one_of_two_orchestrators(target: Target) -> None:
    """SIGKILL one of two orchestrators; the survivor must take over its partitions."""
    await target.kill(target.rng.choice([orchestrator_name(0), orchestrator_name(1)]))


async def sigterm_orchestrator(target: Target) -> None:
    """SIGTERM the orchestrator, wait until it has exited, start it again at once."""
    name = orchestrator_name(0)
    record = await target.kill(name, signal.SIGTERM, SIGTERM_EXIT_TIMEOUT_S)
    await target.start_again(name, record)


async def kill_broker(target: Target) -> None:
    """SIGKILL the broker; restart it on the same data dir and port after RESTART_DELAY_S."""
    local = target.broker
    if not isinstance(local, LocalBroker):
        raise ScenarioUnavailable("broker-kill needs a broker of its own (LocalBroker)")
    record = target.mark("SIGKILL broker")
    await asyncio.to_thread(local.kill)
    await asyncio.sleep(RESTART_DELAY_S)
    await asyncio.to_thread(local.restart)
    record.note = f"broker answered again {time.monotonic() - record.at:.1f}s after the kill"


async def kill_partition_leader(target: Target) -> None:
    """SIGKILL the node leading agent.requests partition 0 (not restarted); the note says
    whether it also led agent.steps partition 0."""
    cluster = target.broker
    if not isinstance(cluster, ClusterBroker):
        raise ScenarioUnavailable("leader-kill needs a 3-node ClusterBroker")
    topics = Topics(target.stack.config.prefix)
    leader = await cluster.leader(topics.agent_requests.name, 0)
    steps_leader = await cluster.leader(topics.agent_steps.name, 0)
    record = target.mark(f"SIGKILL node {leader} (leads agent.requests[0])")
    await asyncio.to_thread(cluster.kill_node, leader)
    record.note = f"agent.steps[0] was led by node {steps_leader}"


async def _kill_and_restart(target: Target, name: str) -> None:
    record = await target.kill(name)
    await asyncio.sleep(RESTART_DELAY_S)  # the outage itself is the fault being tested
    await target.start_again(name, record)


# --------------------------------------------------------------------------- scenarios


@dataclass(frozen=True)
class Scenario:
    """A platform shape plus the faults applied to it during one submission window."""

    name: str
    faults: tuple[Fault, ...]
    orchestrators: int = 1
    broker: str = "shared"
    """`shared` (one broker for many scenarios), `own` (killable) or `cluster` (3 nodes)."""


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in [
        Scenario("tool-worker-kill", (kill_tool_worker,)),
        Scenario("model-worker-kill", (kill_model_worker,)),
        Scenario("orchestrator-kill", (kill_orchestrator,)),
        Scenario("orchestrator-kill-one-of-two", (kill_one_of_two_orchestrators,), 2),
        Scenario("broker-kill", (kill_broker,), broker="own"),
        Scenario("orchestrator-sigterm", (sigterm_orchestrator,)),
        # Needs broker.start_cluster; raises ScenarioUnavailable where it does not exist.
        Scenario("leader-kill", (kill_partition_leader,), broker="cluster"),
        Scenario("baseline", ()),
    ]
}
DEFAULT_SCENARIOS = [
    name
    for name in SCENARIOS
    if name != "baseline" and (name != "leader-kill" or cluster_available())
]
"""Every fault scenario; `leader-kill` only where agentstream/broker.py can start a cluster."""


def fault_moments(count: int, window_s: float, rng: random.Random) -> list[float]:
    """One moment per fault, each in its own slice of the middle of the window, in order."""
    low, high = FAULT_WINDOW
    width = (high - low) / max(count, 1)
    return [window_s * (low + width * (i + rng.random())) for i in range(count)]


# --------------------------------------------------------------------------- one run


def stack_config(scenario: Scenario, bootstrap: str, prefix: str, log_dir: Path) -> StackConfig:
    return StackConfig(
        bootstrap=bootstrap,
        prefix=prefix,
        log_dir=log_dir,
        tools={TOOL_NAME: TOOL_WORKERS},
        modules=["bench.chaos_tools"],
        worker_concurrency=WORKER_CONCURRENCY,
        orchestrators=scenario.orchestrators,
        env={"PYTHONPATH": str(ROOT), LEDGER_ENV: str(log_dir / "ledger.txt"), **STACK_ENV},
        **(CLUSTER_REPLICATION if scenario.broker == "cluster" else {}),
    )


async def wait_members(target: Target, inspector: Inspector) -> None:
    """The tool is registered and every consumer group has all its members, Stable."""
    cfg = target.stack.config
    topics = Topics(cfg.prefix)
    await wait_for_tools(cfg.bootstrap, cfg.prefix, [TOOL_NAME], READY_TIMEOUT_S)
    settings = Settings(kafka_bootstrap_servers=cfg.bootstrap, topic_prefix=cfg.prefix)
    groups = {
        settings.topic_prefix + settings.orchestrator_app_id: cfg.orchestrators,
        topics.model_group: cfg.model_workers,
        topics.tool_group(TOOL_NAME): TOOL_WORKERS,
    }
    for group, members in groups.items():

        async def complete(group: str = group, members: int = members) -> bool:
            target.check_alive()
            return await inspector.group_members(group) == members

        await wait_for(complete, READY_TIMEOUT_S, f"{members} stable members in {group}")


async def run_probes(target: Target, producer: AIOKafkaProducer) -> None:
    """One conversation per request partition must complete before the load starts."""
    topics = Topics(target.stack.config.prefix)
    probes = probe_ids(topics.agent_requests.partitions)
    for cid in probes:
        payload = request_payload(cid, prompt_for(0, random.Random(0)), READY_TIMEOUT_S)
        await producer.send_and_wait(topics.agent_requests.name, payload, key=cid.encode())

    async def answered() -> bool:
        target.check_alive()
        return all(cid in target.tracker.responses for cid in probes)

    await wait_for(answered, READY_TIMEOUT_S, "answers to the probe conversations")
    statuses = {target.tracker.responses[cid][0].status for cid in probes}
    if statuses != {"completed"}:
        raise RuntimeError(f"probe conversations ended {statuses}, want completed")


def probe_ids(partitions: int) -> list[str]:
    """One conversation id per request partition (murmur2, as the plain producer places it)."""
    partitioner, every = DefaultPartitioner(), list(range(partitions))
    found: dict[int, str] = {}
    for i in range(10_000):
        cid = f"probe-{uuid.uuid4().hex[:8]}-{i}"
        found.setdefault(partitioner(cid.encode(), every, every), cid)
        if len(found) == partitions:
            break
    return list(found.values())


async def apply_at(moment: float, fault: Fault, target: Target) -> None:
    await asyncio.sleep(max(0.0, moment - time.monotonic()))
    await fault(target)


async def wait_quiescent(target: Target, load: Load, inspector: Inspector) -> dict[str, int]:
    """Wait until the groups committed everything and every response was read.

    Returns what was still outstanding at the deadline ({} when quiescent): records the
    orchestrator or the tool workers never committed, responses not yet read.
    """
    cfg = target.stack.config
    topics = Topics(cfg.prefix)
    settings = Settings(kafka_bootstrap_servers=cfg.bootstrap, topic_prefix=cfg.prefix)
    checks = {
        "orchestrator_uncommitted": (
            settings.topic_prefix + settings.orchestrator_app_id,
            [topics.agent_requests.name, topics.agent_steps.name],
        ),
        "tool_calls_uncommitted": (
            topics.tool_group(TOOL_NAME),
            [topics.tool_calls(TOOL_NAME).name],
        ),
    }
    outstanding: dict[str, int] = {}

    async def quiet() -> bool:
        outstanding.clear()
        for label, (group, names) in checks.items():
            outstanding[label] = await inspector.group_lag(group, names)
        ends = await inspector.end_offsets([topics.agent_responses.name])
        read = target.tracker.read_upto
        outstanding["responses_unread"] = sum(
            max(0, end - read.get(tp.partition, 0)) for tp, end in ends.items()
        )
        return not any(outstanding.values())

    with contextlib.suppress(TimeoutError):
        await wait_for(quiet, load.drain_timeout_s, "quiescence")
    return {k: v for k, v in outstanding.items() if v}


async def drive(scenario: Scenario, load: Load, target: Target) -> dict[str, int]:
    """Warm up, submit while the faults land, then wait for answers and quiescence."""
    bootstrap = target.broker.bootstrap
    topics = Topics(target.stack.config.prefix)
    async with contextlib.AsyncExitStack() as cleanup:
        inspector = Inspector(bootstrap)
        cleanup.push_async_callback(inspector.stop)
        await inspector.start()
        await wait_members(target, inspector)  # topics exist and have leaders from here on
        producer = plain_producer(bootstrap)
        cleanup.push_async_callback(producer.stop)
        await producer.start()
        responses = topics.agent_responses
        reader = await open_reader(bootstrap, responses.name, responses.partitions)
        cleanup.push_async_callback(reader.stop)
        reading = asyncio.create_task(read_responses(reader, target.tracker))
        cleanup.push_async_callback(cancel_and_wait, reading)
        await run_probes(target, producer)
        target.load_started()
        moments = fault_moments(len(scenario.faults), load.window_s, target.rng)
        faults = [
            asyncio.create_task(apply_at(target.began + m, f, target))
            for m, f in zip(moments, scenario.faults, strict=True)
        ]
        await submit_all(producer, topics.agent_requests.name, target.tracker, load, uuid_hex())
        await producer.flush()
        await asyncio.gather(*faults)
        await settle(target.tracker)
        return await wait_quiescent(target, load, inspector)
    raise AssertionError("unreachable")


async def cancel_and_wait(task: asyncio.Task[Any]) -> None:
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def settle(tracker: Tracker) -> None:
    """Until every conversation is answered or past its own deadline (the last one bounds it)."""

    async def settled() -> bool:
        return tracker.settled(time.monotonic())

    last = max(tracker.deadlines.values(), default=time.monotonic())
    with contextlib.suppress(TimeoutError):
        await wait_for(settled, last - time.monotonic() + 1.0, "every answer or deadline", 0.2)


def uuid_hex() -> str:
    return uuid.uuid4().hex[:8]


# --------------------------------------------------------------------------- results


@dataclass
class ScenarioResult:
    """One scenario's outcome; the four invariants are the last columns of the table."""

    scenario: str
    sent: int = 0
    send_failed: int = 0
    answered: int = 0
    completed: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    never_answered: int = 0
    duplicate_responses: int = 0
    timed_out: int = 0
    tool_executions: int = 0
    tools_executed_more_than_once: int = 0
    answers_with_failed_calls: int = 0
    """Answers whose text reports a failed chaos call: at-most-once means a call interrupted
    by a kill is not run again, and the model hears it failed (informational)."""
    kill_to_resumed_s: float | None = None
    """The first fault's; see `resumed_after`."""
    in_flight_answered_s: float | None = None
    """The first fault's; see `in_flight_answered_after`."""
    faults: list[dict[str, Any]] = field(default_factory=list)
    outstanding: dict[str, int] = field(default_factory=dict)
    undecodable_responses: int = 0
    samples: dict[str, list[str]] = field(default_factory=dict)
    """A few conversation / tool_use ids per failed invariant, to look up in the logs."""
    unexpected_exits: list[str] = field(default_factory=list)
    log_errors: dict[str, dict[str, Any]] = field(default_factory=dict)
    ready_s: float | None = None
    """From starting the stack to starting the load (probes answered)."""
    wall_s: float = 0.0
    log_dir: str = ""
    error: str | None = None

    @property
    def ok(self) -> bool:
        """Zero lost, duplicated, timed-out or twice-executed; the scenario itself ran."""
        return self.error is None and not (
            self.never_answered
            or self.duplicate_responses
            or self.timed_out
            or self.tools_executed_more_than_once
        )

    def as_json(self) -> dict[str, Any]:
        return {**asdict(self), "ok": self.ok}


def ledger_entries(path: Path) -> dict[str, list[tuple[str, float]]]:
    """Per tool_use_id, each execution's worker pid and unix time, from the ledger lines."""
    entries: dict[str, list[tuple[str, float]]] = {}
    lines = path.read_text().splitlines() if path.exists() else []
    for line in filter(None, lines):
        call, pid, at = [*line.split("\t"), "", "0"][:3]
        entries.setdefault(call, []).append((pid, float(at)))
    return entries


def _completed_after(fault: FaultRecord, tracker: Tracker) -> list[Answer]:
    """`completed` answers produced after the fault (record CreateTime, so answers already
    in transit at the kill do not count) to conversations in flight at it (sent,
    unanswered); when nothing was in flight, to any conversation."""
    pool = fault.in_flight or set(tracker.sent)
    return [
        answer
        for cid in pool
        for answer in tracker.responses.get(cid, [])
        if answer.status == "completed" and answer.produced > fault.wall
    ]


def resumed_after(fault: FaultRecord, tracker: Tracker) -> float | None:
    """kill_to_resumed_s: seconds from the fault to the first of `_completed_after`, by
    when it was produced."""
    times = [answer.produced for answer in _completed_after(fault, tracker)]
    return round(min(times) - fault.wall, 2) if times else None


def received_after(fault: FaultRecord, tracker: Tracker) -> float | None:
    """kill_to_received_s: the same, by when the client read it: for a broker kill the
    answers produced meanwhile only arrive once the broker is back."""
    times = [answer.received for answer in _completed_after(fault, tracker)]
    return round(min(times) - fault.at, 2) if times else None


def in_flight_answered_after(fault: FaultRecord, tracker: Tracker) -> float | None:
    """Seconds from the fault until the last conversation in flight at it was answered
    (the recovery tail); None when one of them never was."""
    firsts = [tracker.responses.get(cid, [None])[0] for cid in fault.in_flight]
    if not firsts or None in firsts:
        return None
    return round(max(a.received for a in firsts if a) - fault.at, 2)


SAMPLES = 5


def summarise(result: ScenarioResult, target: Target) -> None:
    """Fill `result` from the tracker, the ledger and the processes' logs."""
    tracker = target.tracker
    answers = {cid: tracker.responses[cid] for cid in tracker.sent if cid in tracker.responses}
    statuses = Counter(found[0].status for found in answers.values())
    lost = sorted(set(tracker.sent) - set(answers))
    doubled = {cid: found for cid, found in sorted(answers.items()) if len(found) > 1}
    executions = ledger_entries(target.stack.config.log_dir / "ledger.txt")
    repeated = {call: runs for call, runs in sorted(executions.items()) if len(runs) > 1}
    result.sent, result.send_failed = len(tracker.sent), len(tracker.send_failed)
    result.undecodable_responses = tracker.undecodable
    result.answered, result.completed = len(answers), statuses.pop("completed", 0)
    result.statuses = dict(statuses)
    result.never_answered, result.duplicate_responses = len(lost), len(doubled)
    result.timed_out = statuses.get("timed_out", 0)
    result.tool_executions = sum(len(runs) for runs in executions.values())
    result.tools_executed_more_than_once = len(repeated)
    failures = [found[0].tool_failed for found in answers.values() if found[0].tool_failed]
    result.answers_with_failed_calls = len(failures)
    result.samples = samples(target, lost, doubled, repeated, failures)
    result.faults = [fault_summary(f, target) for f in target.faults]
    if result.faults:
        result.kill_to_resumed_s = result.faults[0]["kill_to_resumed_s"]
        result.in_flight_answered_s = result.faults[0]["in_flight_answered_s"]
    result.unexpected_exits = sorted(set(target.stack.dead()) - target.gone_for_good)
    result.log_errors = log_errors(target.stack, target.log_marks)


def samples(
    target: Target,
    lost: list[str],
    doubled: dict[str, list[Answer]],
    repeated: dict[str, list[tuple[str, float]]],
    failures: list[str],
) -> dict[str, list[str]]:
    """A few ids per broken invariant, with times relative to the load's start (faults'
    `at_s` use the same origin), to look them up in the logs."""

    def since(unix_s: float) -> str:
        return f"{unix_s - target.began_wall:.2f}s"

    found = {
        "never_answered": [
            f"{cid} sent at {target.tracker.sent[cid] - target.began:.2f}s" for cid in lost
        ],
        "duplicated": [
            f"{cid}: " + ", ".join(f"{a.status} produced at {since(a.produced)}" for a in answers)
            for cid, answers in doubled.items()
        ],
        "failed_call_reasons": [f"{n}x {why}" for why, n in Counter(failures).most_common()],
        "executed_twice": [
            f"{call}: " + ", ".join(f"pid {pid} at {since(at)}" for pid, at in runs)
            for call, runs in repeated.items()
        ],
    }
    return {key: lines[:SAMPLES] for key, lines in found.items() if lines}


def fault_summary(fault: FaultRecord, target: Target) -> dict[str, Any]:
    return {
        "action": fault.action,
        "at_s": round(fault.at - target.began, 2),
        "in_flight": len(fault.in_flight),
        "kill_to_resumed_s": resumed_after(fault, target.tracker),
        "kill_to_received_s": received_after(fault, target.tracker),
        "in_flight_answered_s": in_flight_answered_after(fault, target.tracker),
        "note": fault.note.strip("; "),
    }


ERROR_LINE = re.compile(r"\b(ERROR|CRITICAL)\b|Traceback")
STAMP = re.compile(r"^(\[[^\]]*\]\s*(\[\d+\]\s*)?|\d{4}-\d\d-\d\d [\d:,.]+\s*)")
"""Faust's `[time] [pid] ` or logging's `date time ` prefix, so repeated errors dedupe."""


def log_errors(stack: Stack, marks: dict[str, int], samples: int = 3) -> dict[str, dict[str, Any]]:
    """Per process: error lines logged since its mark, and the first few distinct ones."""
    found: dict[str, dict[str, Any]] = {}
    for name, proc in stack.processes.items():
        if not proc.log_path.exists():
            continue
        with proc.log_path.open("rb") as log:
            log.seek(marks.get(name, 0))
            lines = log.read().decode(errors="replace").splitlines()
        errors = [line for line in lines if ERROR_LINE.search(line)]
        if errors:
            distinct = list(dict.fromkeys(_without_stamp(line)[:200] for line in errors))
            found[name] = {"count": len(errors), "samples": distinct[:samples]}
    return found


def _without_stamp(line: str) -> str:
    return STAMP.sub("", line)


# --------------------------------------------------------------------------- orchestration


@contextlib.contextmanager
def broker_for(scenario: Scenario, shared: Callable[[], BrokerHandle]) -> Iterator[BrokerHandle]:
    """The scenario's broker: the shared one, or one of its own stopped afterwards."""
    if scenario.broker == "shared":
        yield shared()
        return
    own: BrokerHandle = LocalBroker.start() if scenario.broker == "own" else ClusterBroker.start()
    try:
        yield own
    finally:
        own.stop()


def create_journal(config: StackConfig) -> None:
    """Create the chaos tool's journal topic with the others, before its workers start:
    they give reading it only the connect timeout, and two of them racing to create it
    failed to start (see the report); start-up is not what this harness measures."""
    spec = Topics(config.prefix).tool_journal(TOOL_NAME)
    asyncio.run(ensure_topics(config.bootstrap, [spec], **config.replication()))


def run_scenario(
    scenario: Scenario, load: Load, log_root: Path, shared: Callable[[], BrokerHandle]
) -> ScenarioResult:
    """Start a fresh stack (own topic prefix), drive the load and faults, stop everything."""
    began = time.monotonic()
    log_dir = log_root / scenario.name
    result = ScenarioResult(scenario.name, log_dir=str(log_dir))
    try:
        with broker_for(scenario, shared) as kafka:
            prefix = f"chaos-{scenario.name}-{uuid_hex()}."
            stack = Stack(stack_config(scenario, kafka.bootstrap, prefix, log_dir))
            target = Target(stack, kafka, Tracker(), random.Random(f"{load.seed}:{scenario.name}"))
            try:
                create_journal(stack.config)
                stack.start()
                result.outstanding = asyncio.run(drive(scenario, load, target))
            finally:
                try:
                    summarise(result, target)  # before stopping: it looks for crashed processes
                    result.ready_s = round(target.began - began, 1) if target.began else None
                finally:
                    stack.stop()
    except Exception as exc:
        result.error = f"{type(exc).__name__}: {exc}"
    result.wall_s = round(time.monotonic() - began, 1)
    return result


COLUMNS = [
    ("scenario", 28),
    ("sent", 5),
    ("answered", 8),
    ("completed", 9),
    ("other", 18),
    ("never", 5),
    ("dup", 4),
    ("timed_out", 9),
    ("tool>1", 6),
    ("tool_err", 8),
    ("resumed_s", 9),
    ("tail_s", 7),
    ("wall_s", 7),
    ("ok", 4),
]


def table(results: list[ScenarioResult]) -> str:
    """The final table: one row per scenario, invariants and recovery time side by side."""
    head = " ".join(name.ljust(width) for name, width in COLUMNS)
    rows = [head, "-" * len(head)]
    for r in results:
        cells = [
            r.scenario,
            r.sent,
            r.answered,
            r.completed,
            ",".join(f"{k}:{v}" for k, v in r.statuses.items()) or "-",
            r.never_answered,
            r.duplicate_responses,
            r.timed_out,
            r.tools_executed_more_than_once,
            r.answers_with_failed_calls,
            "-" if r.kill_to_resumed_s is None else r.kill_to_resumed_s,
            "-" if r.in_flight_answered_s is None else r.in_flight_answered_s,
            r.wall_s,
            "ok" if r.ok else ("ERR" if r.error else "FAIL"),
        ]
        rows.append(" ".join(str(c).ljust(w) for c, (_, w) in zip(cells, COLUMNS, strict=True)))
        if r.error:
            rows.append(f"  error: {r.error}")
    return "\n".join(rows)


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.chaos", description=__doc__)
    parser.add_argument("--conversations", type=int, default=Load.conversations)
    parser.add_argument("--rate", type=float, default=Load.rate, help="requests per second")
    parser.add_argument("--scenarios", default=",".join(DEFAULT_SCENARIOS))
    parser.add_argument("--seed", type=int, default=Load.seed)
    parser.add_argument("--timeout", type=float, default=Load.timeout_s, help="per request")
    parser.add_argument("--json", type=Path, default=None, help="results file")
    parser.add_argument("--log-dir", type=Path, default=None)
    args = parser.parse_args(argv)
    unknown = [s for s in args.scenarios.split(",") if s not in SCENARIOS]
    if unknown:
        parser.error(f"unknown scenario(s) {unknown}; known: {', '.join(SCENARIOS)}")
    return args


def _interrupt(signum: int, frame: object) -> None:
    """SIGTERM unwinds like Ctrl-C, so every `finally` stops what this run started."""
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    signal.signal(signal.SIGTERM, _interrupt)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(message)s")
    # The harness's own clients retry through new topics' leader elections and broker
    # restarts; what matters is measured from the answers, not from their log lines.
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    args = parse_args(sys.argv[1:] if argv is None else argv)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    load = Load(args.conversations, args.rate, args.timeout, seed=args.seed)
    log_root = args.log_dir or LOG_ROOT / stamp
    shared: list[LocalBroker] = []

    def shared_broker() -> BrokerHandle:
        if not shared:
            shared.append(LocalBroker.start())
        return shared[0]

    began, results = time.monotonic(), []
    try:
        for name in args.scenarios.split(","):
            result = run_scenario(SCENARIOS[name], load, log_root, shared_broker)
            results.append(result)
            print(json.dumps(result.as_json()), flush=True)
    finally:
        for kafka in shared:
            kafka.stop()
    wall_s = time.monotonic() - began
    print(f"\n{table(results)}\nall scenarios: {wall_s:.0f}s wall; logs in {log_root}")
    out = args.json or RESULTS_DIR / f"chaos-{stamp}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    document = {"load": asdict(load), "wall_s": round(wall_s, 1), "log_dir": str(log_root)}
    out.write_text(json.dumps({**document, "scenarios": [r.as_json() for r in results]}, indent=2))
    print(f"results: {out}")
    return 0 if all(r.ok for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
