"""`agentstream demo`: the whole platform on one machine, a few conversations, then stop.

Starts the broker (unless KAFKA_BOOTSTRAP_SERVERS points at one), the local model server
(unless AGENTSTREAM_MODEL_BACKEND=anthropic), the orchestrator, a model worker and two worker
processes per example tool; runs conversations that need parallel tool calls; prints
them as they progress; stops every process it started, by PID.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from agentstream import broker
from agentstream.client import AgentClient, describe
from agentstream.stack import Stack, StackConfig
from config.settings import Settings, get_settings
from monitoring.scrape import scrape_sum
from topics.messages import AgentEvent, AgentRequest, AgentResponse

TOOLS = {"calculator": 2, "clock": 2, "search_docs": 2, "sleep": 2}
PROMPTS = [
    "compute 1234*5678, compute 2^20 and what time is it in Europe/Paris",
    "sleep 1 seconds, sleep 1 seconds, sleep 1 seconds and compute (17+25)*3",
    "search docs for tool registry and search docs for dead letter topic",
]
LOG_DIR = broker.CACHE_DIR / "demo-logs"
FAULTS = ["--fault-rate", "0.2", "--fault-status", "529", "--seed", "7"]
"""The local model answers one call in five with 529 overloaded: the SDK's retries show."""


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


async def _wait_ready(settings: Settings) -> tuple[float, AgentResponse | None]:
    """Run one tiny conversation so later timings exclude start-up."""
    began = time.monotonic()
    client = AgentClient(settings)
    await client.start()
    response = None
    try:
        probe = AgentRequest(
            conversation_id=f"demo-ready-{uuid.uuid4().hex[:6]}",
            prompt="Reply with the single word: ready",
            max_tokens=16,
        )
        await client.submit(probe)
        async for message in client.follow({probe.conversation_id}, timeout_s=180):
            if isinstance(message, AgentResponse):
                response = message
    finally:
        await client.stop()
    return time.monotonic() - began, response


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


def _check_metrics(stack: Stack, responses: list[AgentResponse]) -> bool:
    """The metrics endpoints agree with the responses' own figures (cost to the cent)."""
    ports = stack.metrics_ports

    def total(name: str, prefix: str = "", **labels: str) -> float:
        """Sum over every process whose name starts with `prefix`."""
        return sum(
            scrape_sum(f"http://127.0.0.1:{port}/metrics", name, **labels)
            for proc, port in ports.items()
            if proc.startswith(prefix)
        )

    figures = {
        "cost_usd": (
            total("agentstream_cost_usd_total", "orchestrator"),
            sum(r.cost_usd for r in responses),
        ),
        "iterations": (
            total("agentstream_conversation_iterations_sum", "orchestrator"),
            sum(r.iterations for r in responses),
        ),
        "input_tokens": (
            total("agentstream_tokens_total", "orchestrator", kind="input"),
            sum(r.usage.input_tokens for r in responses),
        ),
        "output_tokens": (
            total("agentstream_tokens_total", "orchestrator", kind="output"),
            sum(r.usage.output_tokens for r in responses),
        ),
    }
    ok = True
    print("\nmetrics vs responses (readiness probe included)")
    for name, (metric, own) in figures.items():
        same = round(metric, 2) == round(own, 2)
        ok &= same
        print(f"  {name}: metrics {metric:g}, responses {own:g} -> {'match' if same else 'DIFF'}")
    print(
        "retries per layer: "
        f"SDK transport {total('agentstream_model_sdk_retries_total', 'model-worker'):g}, "
        f"tool-side {total('agentstream_tool_retries_total', 'worker-'):g}, "
        f"model-level {total('agentstream_model_recoveries_total', 'orchestrator'):g}"
    )
    return ok


def run(settings: Settings, keep_logs: Path) -> int:
    started_broker = None
    began = time.monotonic()
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS") or os.environ.get(
        "AGENTSTREAM_KAFKA_BOOTSTRAP_SERVERS"
    )
    if not bootstrap:
        # A broker of its own, with fresh storage: every demo run starts from nothing.
        started_broker = Path(tempfile.mkdtemp(prefix="agentstream-demo-broker-"))
        info = broker.start(started_broker)
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
            model_server_args=FAULTS,
        )
    )
    try:
        stack.start()
        print(f"started {len(stack.processes)} processes against the {model}; logs in {keep_logs}")
        asyncio.run(stack.wait_for_tools(list(TOOLS), 120))
        ready_s, probe = asyncio.run(_wait_ready(settings))
        print(
            f"platform ready {time.monotonic() - began:.1f}s after start "
            f"(first conversation {ready_s:.2f}s)\n"
        )
        t0 = time.monotonic()
        tallies = asyncio.run(_converse(settings, list(TOOLS)))
        ok = _summary(tallies, time.monotonic() - t0)
        responses = [t.response for t in tallies.values() if t.response]
        ok &= _check_metrics(stack, [*responses, *([probe] if probe else [])])
        return 0 if ok else 1
    finally:
        stack.stop()
        if started_broker is not None:
            broker.stop(started_broker)
            shutil.rmtree(started_broker, ignore_errors=True)
        print("stopped every process the demo started")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="agentstream demo")
    parser.add_argument("--log-dir", type=Path, default=LOG_DIR)
    args = parser.parse_args(argv)
    return run(get_settings(), args.log_dir)
