"""The faults: which process is killed, how, and when (or whether) it comes back."""

from __future__ import annotations

import asyncio
import random
import signal
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from agentstream.stack import Stack, orchestrator_name
from bench.chaos.brokers import BrokerHandle, ClusterBroker, LocalBroker, ScenarioUnavailable
from bench.chaos.load import Tracker
from bench.chaos_names import TOOL_NAME
from topics.names import Topics

RESTART_DELAY_S = 3.0
SIGTERM_EXIT_TIMEOUT_S = 60.0


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
    """The chaos tool's worker processes: the ones a tool-worker fault picks from."""
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
    """SIGKILL `name`, leave it down for RESTART_DELAY_S, start it again."""
    record = await target.kill(name)
    await asyncio.sleep(RESTART_DELAY_S)  # the outage itself is the fault being tested
    await target.start_again(name, record)
