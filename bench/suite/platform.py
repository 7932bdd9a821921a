"""One running platform per measurement: its own topic prefix, its processes, the suite's
client and observer, readiness checks, and loads submitted with a bound on what is in flight.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiokafka.partitioner import DefaultPartitioner

from agentstream.stack import Stack, StackConfig
from bench.chaos.clients import Inspector, wait_for
from bench.chaos.paths import ROOT
from bench.suite.names import TOOLS_MODULE
from bench.suite.observe import Client, Observer, Reply, each_had
from bench.suite.stats import cpu_seconds
from config.settings import Settings
from topics.names import Topics

READY_TIMEOUT_S = 180.0
PROBE_TIMEOUT_S = 30.0
STALLED_AFTER_S = 60.0
"""A load fails when this long passes without a single answer."""
BASE_ENV = {"PYTHONPATH": str(ROOT), "AGENTSTREAM_MODEL_REQUESTS_PER_S": "100000"}
"""Workers find `bench.bench_tools`; the local model has no rate limit, so neither does
the model worker (its default of 50 calls/s would be what a throughput run measures)."""
RUNNING: list[Stack] = []
"""Stacks started and not yet stopped, so an interrupted run can still stop them by PID."""


@dataclass
class Bench:
    """What every phase shares: the broker, where logs go, and how big the run is."""

    bootstrap: str
    log_root: Path
    quick: bool
    broker_pid: int | None = None

    def size(self, full: int, quick: int) -> int:
        return quick if self.quick else full


@dataclass(frozen=True)
class Probe:
    """A prompt the measurement relies on, checked once before it: the answer must be
    `completed` and name `calls` calls of `tool` (the local model chose that tool)."""

    prompt: str
    tool: str
    calls: int


@dataclass
class Target:
    """A running stack with the suite's client and observer attached."""

    stack: Stack
    client: Client
    observer: Observer
    topics: Topics

    def check_alive(self) -> None:
        dead = self.stack.dead()
        if dead:
            tail = self.stack.log_tail(dead[0], 20)
            raise RuntimeError(f"platform process {dead[0]} exited; its log ends:\n{tail}")
        self.observer.check()

    async def converse(
        self, cid: str, prompt: str, tools: list[str], timeout_s: float = 120.0
    ) -> tuple[float, Reply]:
        """Send one request and wait for its answer: (monotonic send time, reply)."""
        waiting = self.observer.reply(cid)
        sent = await self.client.submit(cid, prompt, tools, timeout_s)
        deadline = time.monotonic() + timeout_s + 30
        while not waiting.done():
            self.check_alive()
            if time.monotonic() > deadline:
                raise TimeoutError(f"no answer to {cid} within {timeout_s + 30:g}s")
            await asyncio.wait([waiting], timeout=1.0)
        return sent, waiting.result()

    async def each_had(
        self, cids: list[str], event: str, timeout_s: float, poll_s: float = 0.05
    ) -> None:
        """Wait until an `event` of each conversation has been read, the platform alive."""
        await each_had(self.observer, cids, event, timeout_s, self.check_alive, poll_s)

    async def run_bounded(
        self, jobs: list[tuple[str, str]], tools: list[str], in_flight: int, timeout_s: float = 300
    ) -> dict[str, float]:
        """Submit every (cid, prompt) as fast as the platform takes them, at most `in_flight`
        unanswered at once; returns each cid's monotonic send time once all are answered."""
        slots = asyncio.Semaphore(in_flight)
        sent: dict[str, float] = {}

        async def submit_all() -> None:
            for cid, prompt in jobs:
                await slots.acquire()
                self.observer.reply(cid).add_done_callback(lambda _f: slots.release())
                sent[cid] = await self.client.submit(cid, prompt, tools, timeout_s, wait=False)
            await self.client.flush()

        submitting = asyncio.create_task(submit_all())
        self.observer.progress_at = time.monotonic()
        try:
            while not (submitting.done() and all(c in self.observer.replies for c, _ in jobs)):
                await asyncio.sleep(0.25)
                self.check_alive()
                if submitting.done() and submitting.exception() is not None:
                    raise submitting.exception()  # type: ignore[misc]
                if time.monotonic() - self.observer.progress_at > STALLED_AFTER_S:
                    missing = sum(c not in self.observer.replies for c, _ in jobs)
                    raise TimeoutError(
                        f"{missing} conversations unanswered: no answer in {STALLED_AFTER_S:g}s"
                    )
        finally:
            submitting.cancel()
            await asyncio.gather(submitting, return_exceptions=True)
        return sent

    def cpu(self, extra: dict[str, int] | None = None) -> dict[str, float]:
        """CPU seconds so far of every platform process (and of `extra` named PIDs)."""
        pids = {name: p.pid for name, p in self.stack.processes.items()} | (extra or {})
        return {name: cpu_seconds(pid) for name, pid in pids.items()}


def role(process: str) -> str:
    """The kind of a stack process: orchestrator, model-worker, tool-worker, model-server."""
    if process.startswith("orchestrator"):
        return "orchestrator"
    if process.startswith("model-worker"):
        return "model-worker"
    if process.startswith("worker-"):
        return "tool-worker"
    return process


def cpu_by_role(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    """CPU seconds spent between two `Target.cpu` readings, summed per role."""
    spent: dict[str, float] = {}
    for name, seconds in after.items():
        spent[role(name)] = spent.get(role(name), 0.0) + seconds - before.get(name, 0.0)
    return {name: round(seconds, 3) for name, seconds in spent.items()}


def ids(tag: str, count: int) -> list[str]:
    run = uuid.uuid4().hex[:6]
    return [f"{tag}-{run}-{i:06d}" for i in range(count)]


def per_partition_ids(tag: str, partitions: int) -> list[str]:
    """One conversation id for each request partition (murmur2, as the client places it)."""
    partitioner, every = DefaultPartitioner(), list(range(partitions))
    found: dict[int, str] = {}
    for cid in ids(tag, 1000):
        found.setdefault(partitioner(cid.encode(), every, every), cid)
        if len(found) == partitions:
            break
    return list(found.values())


async def wait_ready(stack: Stack, check: Callable[[], None]) -> None:
    """Every tool registered and every consumer group with all its members, Stable."""
    cfg = stack.config
    await stack.wait_for_tools(list(cfg.tools), READY_TIMEOUT_S)
    topics, settings = Topics(cfg.prefix), Settings(topic_prefix=cfg.prefix)
    groups = {
        cfg.prefix + settings.orchestrator_app_id: cfg.orchestrators,
        topics.model_group: cfg.model_workers,
    } | {topics.tool_group(tool): count for tool, count in cfg.tools.items()}
    inspector = Inspector(cfg.bootstrap)
    await inspector.start()
    try:
        for group, members in groups.items():

            async def complete(group: str = group, members: int = members) -> bool:
                check()
                return await inspector.group_members(group) == members

            await wait_for(complete, READY_TIMEOUT_S, f"{members} stable members in {group}")
    finally:
        await inspector.stop()


async def check_probe(target: Target, probe: Probe, cid: str) -> None:
    """Run one conversation with the probe's prompt and check the tool the model chose."""
    _, reply = await target.converse(cid, probe.prompt, [probe.tool], PROBE_TIMEOUT_S)
    body = reply.body
    named = str(body.get("text", "")).count(f"{probe.tool}(")
    if body.get("status") != "completed" or body.get("tool_calls") != probe.calls or named < 1:
        raise RuntimeError(
            f"probe {probe.prompt!r}: want {probe.calls} {probe.tool} call(s), completed; "
            f"got {body.get('status')}, {body.get('tool_calls')} call(s): {body.get('text')!r}"
        )


@contextlib.asynccontextmanager
async def platform(
    bench: Bench,
    name: str,
    tools: dict[str, int],
    probes: list[Probe],
    events: bool = False,
    tool_calls: tuple[str, ...] = (),
    env: dict[str, str] | None = None,
    **config: Any,
) -> AsyncIterator[Target]:
    """A fresh stack (own prefix, own logs) ready to measure; stopped by PID on the way out.

    Before yielding, every probe runs once on each request partition, which also warms
    every orchestrator, worker and connection the measurement goes through."""
    prefix = f"bench{uuid.uuid4().hex[:6]}.{name}."
    topics = Topics(prefix)
    stack = Stack(
        StackConfig(
            bootstrap=bench.bootstrap,
            prefix=prefix,
            log_dir=bench.log_root / name,
            tools=tools,
            modules=[TOOLS_MODULE],
            env={**BASE_ENV, **(env or {})},
            **config,
        )
    )
    client = Client(bench.bootstrap, topics)
    observer = Observer(bench.bootstrap, topics, events=events, tool_calls=tool_calls)
    target = Target(stack, client, observer, topics)
    RUNNING.append(stack)
    try:
        await asyncio.to_thread(stack.start)
        await wait_ready(stack, target.check_alive)
        await client.start()
        await observer.start()
        for probe in probes:
            for cid in per_partition_ids(f"probe-{probe.tool}", topics.agent_requests.partitions):
                await check_probe(target, probe, cid)
        yield target
    finally:
        for closing in (observer.stop, client.stop):
            with contextlib.suppress(Exception):
                await closing()
        await asyncio.to_thread(stack.stop)
        RUNNING.remove(stack)


LOG_PROBLEM = re.compile(r"\b(ERROR|CRITICAL|Traceback|WARNING|Dead-lettering)\b")


def log_findings(log_dir: Path, limit: int = 5) -> dict[str, dict[str, Any]]:
    """Per process log: how many lines look like problems, and the first few of them."""
    found: dict[str, dict[str, Any]] = {}
    for path in sorted(log_dir.glob("*.log")):
        lines = [
            ln for ln in path.read_text(errors="replace").splitlines() if LOG_PROBLEM.search(ln)
        ]
        if lines:
            found[path.stem] = {
                "lines": len(lines),
                "first": [line[:300] for line in lines[:limit]],
            }
    return found
