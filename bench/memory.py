"""Orchestrator memory is flat in the number of conversations ever run.

    .venv/bin/python -m bench.memory [--conversations N] [--rate R] [--warmup N]

Starts a project broker and the platform through its CLI (calculator tool, local model),
runs `--warmup` conversations, reads the orchestrator's RSS, runs `--conversations` more
(each: a model call, a calculator call, a second model call), waits until every one is
answered and the orchestrator is idle, and reads its RSS again. Prints one JSON object;
also written to bench/results/memory-<timestamp>.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

from agentstream.stack import Stack, StackConfig
from bench.chaos.brokers import LocalBroker
from bench.chaos.clients import open_reader, plain_producer, read_responses
from bench.chaos.load import Tracker
from bench.chaos.paths import LOG_ROOT, RESULTS_DIR
from bench.chaos.runner import STACK_ENV
from topics.names import Topics

STALLED_AFTER_S = 60.0
IDLE_S = 3.0
"""After the last answer, how long the orchestrator is left alone before the reading."""


def rss_mb(pid: int) -> float:
    """Resident set size of `pid` in MiB, from /proc."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


async def run_batch(
    bootstrap: str, topics: Topics, tracker: Tracker, count: int, rate: float, tag: str
) -> float:
    """Submit `count` calculator conversations at `rate`/s; returns seconds until all answered."""
    producer = plain_producer(bootstrap)
    await producer.start()
    began = time.monotonic()
    try:
        for i in range(count):
            await asyncio.sleep(max(0.0, began + i / rate - time.monotonic()))
            cid = f"mem-{tag}-{i:06d}"
            body = {"conversation_id": cid, "prompt": f"compute {i}+1", "tools": ["calculator"]}
            await producer.send(
                topics.agent_requests.name, json.dumps(body).encode(), key=cid.encode()
            )
            tracker.submitted(cid, 120.0)
        await producer.flush()
    finally:
        await producer.stop()

    await until_answered(tracker, tag)
    return time.monotonic() - began


async def until_answered(tracker: Tracker, tag: str) -> None:
    """Wait while answers keep coming; fail once STALLED_AFTER_S pass without one."""
    waiting = len(tracker.in_flight())
    progress_at = time.monotonic()
    while waiting:
        await asyncio.sleep(0.5)
        now_waiting = len(tracker.in_flight())
        if now_waiting < waiting:
            waiting, progress_at = now_waiting, time.monotonic()
        elif time.monotonic() - progress_at > STALLED_AFTER_S:
            raise TimeoutError(f"{waiting} conversations of the {tag} batch never answered")


async def measure(
    conversations: int, warmup: int, rate: float, retention_s: float | None
) -> dict[str, object]:
    local = await asyncio.to_thread(LocalBroker.start)
    prefix = f"mem{uuid.uuid4().hex[:6]}."
    topics = Topics(prefix)
    log_dir = LOG_ROOT.parent / "memory-logs" / prefix.rstrip(".")
    stack = Stack(
        StackConfig(
            bootstrap=local.bootstrap,
            prefix=prefix,
            log_dir=log_dir,
            tools={"calculator": 1},
            env={**STACK_ENV, **retention_env(retention_s)},
            worker_concurrency=16,
        )
    )
    print(f"platform logs: {log_dir}", file=sys.stderr)
    try:
        await asyncio.to_thread(stack.start)
        await stack.wait_for_tools(["calculator"], 120)
        tracker = Tracker()
        reader = await open_reader(local.bootstrap, topics.agent_responses.name, 4)
        reading = asyncio.create_task(read_responses(reader, tracker))
        try:
            pid = stack.processes["orchestrator"].pid
            await run_batch(local.bootstrap, topics, tracker, warmup, rate, "warmup")
            await asyncio.sleep(IDLE_S)
            before = rss_mb(pid)
            took = await run_batch(local.bootstrap, topics, tracker, conversations, rate, "main")
            await asyncio.sleep(IDLE_S)
            after = rss_mb(pid)
        finally:
            reading.cancel()
            await asyncio.gather(reading, return_exceptions=True)
            await reader.stop()
        statuses: dict[str, int] = {}
        for answers in tracker.responses.values():
            statuses[answers[0].status] = statuses.get(answers[0].status, 0) + 1
        return {
            "log_dir": str(log_dir),
            "conversations": conversations,
            "warmup": warmup,
            "rate_per_s": rate,
            "finished_retention_s": retention_s,
            "seconds": round(took, 1),
            "statuses": statuses,
            "rss_before_mb": round(before, 1),
            "rss_after_mb": round(after, 1),
            "rss_growth_mb": round(after - before, 1),
        }
    finally:
        await asyncio.to_thread(stack.stop)
        await asyncio.to_thread(local.stop)


def retention_env(retention_s: float | None) -> dict[str, str]:
    """None keeps the platform default (one hour: every conversation here is still held)."""
    return {} if retention_s is None else {"AGENTSTREAM_FINISHED_RETENTION_S": str(retention_s)}


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.memory")
    parser.add_argument("--conversations", type=int, default=10_000)
    parser.add_argument("--warmup", type=int, default=500)
    parser.add_argument("--rate", type=float, default=100.0)
    parser.add_argument("--retention-s", type=float, default=None)
    args = parser.parse_args()
    result = asyncio.run(measure(args.conversations, args.warmup, args.rate, args.retention_s))
    print(json.dumps(result))
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    (RESULTS_DIR / f"memory-{stamp}.json").write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
