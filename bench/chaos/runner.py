"""One scenario run: start the stack, warm up, submit while faults land, drain, summarise."""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.partitioner import DefaultPartitioner

from agentstream.stack import Stack, StackConfig
from bench.chaos.audit import ScenarioResult, summarise
from bench.chaos.brokers import CLUSTER_REPLICATION, BrokerHandle, ClusterBroker, LocalBroker
from bench.chaos.clients import (
    Inspector,
    open_reader,
    plain_producer,
    read_responses,
    submit_all,
    wait_for,
)
from bench.chaos.faults import Fault, Target
from bench.chaos.load import Load, Tracker, prompt_for, request_payload
from bench.chaos.paths import ROOT
from bench.chaos.scenarios import Scenario, fault_moments
from bench.chaos_names import LEDGER_ENV, TOOL_NAME
from config.settings import Settings
from topics.admin import ensure_topics
from topics.names import Topics

TOOL_WORKERS = 2
WORKER_CONCURRENCY = 16
READY_TIMEOUT_S = 120.0
STACK_ENV = {"AGENTSTREAM_MODEL_REQUESTS_PER_S": "500"}
"""The local model has no rate limit; the model worker's default 50/s would be the bottleneck."""


def stack_config(scenario: Scenario, bootstrap: str, prefix: str, log_dir: Path) -> StackConfig:
    """The platform for one scenario: chaos tool workers, the ledger, cluster replication."""
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
    await target.stack.wait_for_tools([TOOL_NAME], READY_TIMEOUT_S)
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
    """Apply `fault` at the monotonic `moment`, so faults land while the load runs."""
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
    """Cancel a background task and wait until it has unwound."""
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
    """A short random tag, so runs and topic prefixes never collide."""
    return uuid.uuid4().hex[:8]


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
