"""`agentstream demo`: the whole platform on one machine, a few conversations, then stop.

Starts the broker (unless KAFKA_BOOTSTRAP_SERVERS points at one), the local model server
(unless ANTHROPIC_API_KEY is set), the orchestrator, a model worker and two worker
processes per example tool; runs conversations that need parallel tool calls; prints
them as they progress; stops every process it started, by PID.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from agents.client import AgentClient, describe
from agentstream import broker
from agentstream.settings import Settings, get_settings
from agentstream.stack import Stack, StackConfig, wait_for_tools
from monitoring.scrape import scrape_sum
from topics.messages import AgentEvent, AgentRequest, AgentResponse

TOOLS = {"calculator": 2, "clock": 2, "search_docs": 2, "sleep": 2}
PROMPTS = [
    "compute 1234*5678, compute 2^20 and what time is it in Europe/Paris",
    "sleep 1 seconds, sleep 1 seconds, sleep 1 seconds and compute (17+25)*3",
    "search docs for tool registry and search docs for dead letter topic",
]
LOG_DIR = broker.CACHE_DIR / "demo-logs"


@dataclass
class Tally:
    """What one conversation did, for the summary."""

    prompt: str
    tools: list[tuple[float, float]] = field(default_factory=list)
    response: AgentResponse | None = None

    def max_parallel(self) -> int:
        """Most tool calls that were running at the same instant."""
        edges = sorted([(s, 1) for s, _ in self.tools] + [(e, -1) for _, e in self.tools])
        running = best = 0
        for _, delta in edges:
            running += delta
            best = max(best, running)
        return best


async def _wait_ready(settings: Settings) -> tuple[float, float]:
    """Run one tiny conversation so later timings exclude start-up; (seconds, its cost)."""
    began = time.monotonic()
    client = AgentClient(settings)
    await client.start()
    cost = 0.0
    try:
        probe = AgentRequest(
            conversation_id=f"demo-ready-{uuid.uuid4().hex[:6]}",
            prompt="Reply with the single word: ready",
            max_tokens=16,
        )
        await client.submit(probe)
        async for message in client.follow({probe.conversation_id}, timeout_s=180):
            if isinstance(message, AgentResponse):
                cost = message.cost_usd
    finally:
        await client.stop()
    return time.monotonic() - began, cost


async def _converse(settings: Settings, tools: list[str]) -> dict[str, Tally]:
    client = AgentClient(settings)
    await client.start()
    tallies: dict[str, Tally] = {}
    try:
        for i, prompt in enumerate(PROMPTS, 1):
            cid = f"demo-{i}-{uuid.uuid4().hex[:6]}"
            tallies[cid] = Tally(prompt)
            await client.submit(AgentRequest(conversation_id=cid, prompt=prompt, tools=tools))
            print(f"[{cid}] {prompt}")
        async for message in client.follow(set(tallies), timeout_s=120):
            tally = tallies[message.conversation_id]
            print(f"[{message.conversation_id}] {describe(message)}")
            if isinstance(message, AgentEvent) and message.type == "tool_finished":
                tally.tools.append((message.at - (message.duration_s or 0), message.at))
            elif isinstance(message, AgentResponse):
                tally.response = message
    finally:
        await client.stop()
    return tallies


def _summary(tallies: dict[str, Tally], wall_s: float) -> bool:
    print("\nsummary")
    ok = True
    for cid, tally in tallies.items():
        r = tally.response
        assert r is not None
        ok &= r.status == "completed"
        print(
            f"  {cid}: {r.status} in {r.duration_s:.2f}s, {r.iterations} model calls, "
            f"{r.tool_calls} tool calls (max {tally.max_parallel()} in parallel), "
            f"{r.usage.input_tokens}+{r.usage.output_tokens} tokens, ${r.cost_usd:.6f}"
        )
    total = sum(t.response.cost_usd for t in tallies.values() if t.response)
    print(f"  all {len(tallies)} conversations: {wall_s:.2f}s wall, ${total:.6f}")
    return ok


def _check_metrics(stack: Stack, tallies: dict[str, Tally], probe_cost: float) -> bool:
    """The orchestrator's cost counter equals the responses' own costs, to the cent."""
    port = stack.metrics_ports["orchestrator"]
    metric_cost = scrape_sum(f"http://127.0.0.1:{port}/metrics", "agentstream_cost_usd_total")
    response_cost = probe_cost + sum(t.response.cost_usd for t in tallies.values() if t.response)
    same = round(metric_cost, 2) == round(response_cost, 2)
    print(
        f"  metrics: agentstream_cost_usd_total ${metric_cost:.6f} vs responses "
        f"${response_cost:.6f} (readiness probe included): {'match' if same else 'MISMATCH'}"
    )
    return same


def run(settings: Settings, keep_logs: Path) -> int:
    started_broker = None
    began = time.monotonic()
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS") or os.environ.get(
        "AGENTSTREAM_KAFKA_BOOTSTRAP_SERVERS"
    )
    if not bootstrap:
        info = broker.start()
        started_broker = broker.DEFAULT_HOME
        bootstrap = info.bootstrap_servers
        print(f"Apache Kafka {info.version} (KRaft) on {bootstrap}, pid {info.pid}")
    settings = settings.model_copy(update={"kafka_bootstrap_servers": bootstrap})
    model = "local model server" if settings.uses_local_model else f"Claude ({settings.model})"
    stack = Stack(
        StackConfig(
            bootstrap=bootstrap,
            prefix=settings.topic_prefix,
            log_dir=keep_logs,
            tools=TOOLS,
            use_local_model=settings.uses_local_model,
        )
    )
    try:
        stack.start()
        print(f"started {len(stack.processes)} processes against the {model}; logs in {keep_logs}")
        asyncio.run(wait_for_tools(bootstrap, settings.topic_prefix, list(TOOLS), 120))
        ready_s, probe_cost = asyncio.run(_wait_ready(settings))
        print(
            f"platform ready {time.monotonic() - began:.1f}s after start "
            f"(first conversation {ready_s:.2f}s)\n"
        )
        t0 = time.monotonic()
        tallies = asyncio.run(_converse(settings, list(TOOLS)))
        ok = _summary(tallies, time.monotonic() - t0)
        ok &= _check_metrics(stack, tallies, probe_cost)
        return 0 if ok else 1
    finally:
        stack.stop()
        if started_broker is not None:
            broker.stop(started_broker)
        print("stopped every process the demo started")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="agentstream demo")
    parser.add_argument("--log-dir", type=Path, default=LOG_DIR)
    args = parser.parse_args(argv)
    return run(get_settings(), args.log_dir)
