"""`python -m bench.suite`: arguments, the shared broker, each phase in turn, the report."""

from __future__ import annotations

import argparse
import asyncio
import os
import platform as host
import shutil
import sys
import time
import traceback
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import bench.suite
from agentstream import broker
from bench.baselines.raw_kafka import keep_busy
from bench.chaos.brokers import LocalBroker
from bench.chaos.paths import RESULTS_DIR, ROOT
from bench.harness import begin_run, utc_stamp
from bench.suite import fanout, hop, memory, scale_out, throughput
from bench.suite.platform import RUNNING, Bench
from bench.suite.report import PhaseResult, as_json, markdown, results_page, write_json
from config import event_loop
from config.settings import get_settings

PHASES: dict[str, Callable[[Bench], Awaitable[PhaseResult]]] = {
    "hop": hop.run,
    "fanout": fanout.run,
    "throughput": throughput.run,
    "scale_out": scale_out.run,
    "memory": memory.run,
}
DOCS_DIR = ROOT / "docs" / "bench"
LOG_ROOT = broker.CACHE_DIR / "bench-logs"
WARM_BROKER_S, QUICK_WARM_BROKER_S = 30.0, 5.0


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.suite",
        description=bench.suite.__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--quick", action="store_true", help="a short smoke run of every phase")
    parser.add_argument("--phases", default=",".join(PHASES), help="comma-separated, in order")
    parser.add_argument("--log-dir", type=Path, default=None, help="platform process logs")
    parser.add_argument(
        "--docs",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="copy the table and chart to docs/bench/ (default: only for a full run)",
    )
    args = parser.parse_args(argv)
    args.phases = [p.strip() for p in args.phases.split(",") if p.strip()]
    unknown = [p for p in args.phases if p not in PHASES]
    if unknown or not args.phases:
        parser.error(f"unknown phase(s) {unknown}; known: {', '.join(PHASES)}")
    if args.docs is None:
        args.docs = not args.quick and args.phases == list(PHASES)
    return args


def machine(kafka_version: str) -> dict[str, Any]:
    cpu = ""
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    return {
        "cores": os.cpu_count(),
        "cpu": cpu,
        "python": host.python_version(),
        "kafka_version": kafka_version,
        "platform": host.platform(),
    }


def warm_broker(bench: Bench) -> dict[str, float]:
    """Plain Kafka round trips for WARM_BROKER_S before the first phase (`keep_busy`): the
    hop phase, which runs first, met a broker whose JVM had not compiled its request
    paths yet, and its Kafka hops took twice as long at first as later in the run."""
    seconds = bench.size(WARM_BROKER_S, QUICK_WARM_BROKER_S)
    print(f"== warming the broker: {seconds:g}s of plain Kafka round trips", flush=True)
    began = time.monotonic()
    prefix = f"benchwarm{uuid.uuid4().hex[:6]}."
    count = asyncio.run(keep_busy(bench.bootstrap, seconds, prefix, log_dir=bench.log_root))
    return {"seconds": round(time.monotonic() - began, 1), "round_trips": count}


def run_phases(names: list[str], bench: Bench) -> list[PhaseResult]:
    """Each phase in its own event loop; a failing phase is recorded and the next one runs."""
    results = []
    for name in names:
        print(f"== {name}", flush=True)
        began = time.monotonic()
        try:
            result = asyncio.run(PHASES[name](bench))
        except Exception as exc:
            traceback.print_exc()
            result = PhaseResult(name, error=f"{type(exc).__name__}: {exc}"[:2000])
        result.seconds = round(time.monotonic() - began, 1)
        results.append(result)
        print(markdown([result]), f"\n({name}: {result.seconds:.0f}s)\n", flush=True)
    return results


def report(results: list[PhaseResult], doc: dict[str, Any], stamp: str, docs: bool) -> None:
    """JSON, Markdown and PNG under bench/results; the Markdown and PNG to docs/ if asked."""
    out = RESULTS_DIR / f"bench-{stamp}"
    page = results_page(results, doc["machine"], doc["started_at"])
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".md").write_text(page)
    try:
        from bench.suite.chart import draw

        draw(doc["phases"], out.with_suffix(".png"))
        doc["chart"] = str(out.with_suffix(".png"))
    except ImportError as exc:
        doc["chart"] = f"skipped: matplotlib is not installed ({exc})"
        print(f"chart skipped: matplotlib is not installed ({exc})")
    write_json(out.with_suffix(".json"), doc)
    print(markdown(results))
    print(f"\nresults: {out.with_suffix('.json')}")
    if docs:
        DOCS_DIR.mkdir(parents=True, exist_ok=True)
        (DOCS_DIR / "results.md").write_text(page)
        if out.with_suffix(".png").exists():
            shutil.copyfile(out.with_suffix(".png"), DOCS_DIR / "chart.png")
        print(f"docs: {DOCS_DIR / 'results.md'}, {DOCS_DIR / 'chart.png'}")


def main(argv: list[str] | None = None) -> int:
    """Run the chosen phases; exit 1 when a phase failed (a target not met is reported)."""
    stamp = begin_run()
    args = parse_args(sys.argv[1:] if argv is None else argv)
    # The suite's own side of the baselines (the raw caller, the relay's driver, the SDK call
    # made in-process) runs on the platform's loop, as their other sides do.
    event_loop.use(get_settings().event_loop)
    log_root = args.log_dir or LOG_ROOT / stamp
    print(f"platform logs: {log_root}", flush=True)
    local = LocalBroker.start()
    try:
        bench = Bench(local.bootstrap, log_root, args.quick, local.info.pid)
        warmed = warm_broker(bench)
        results = run_phases(args.phases, bench)
    finally:
        for stack in list(RUNNING):
            stack.stop()
        local.stop()
    doc = {
        "started_at": stamp,
        "finished_at": utc_stamp(),
        "quick": args.quick,
        "phases_run": args.phases,
        "log_dir": str(log_root),
        "machine": machine(local.info.version),
        "broker_warmup": warmed,
        "phases": {r.name: as_json(r) for r in results},
    }
    report(results, doc, stamp, args.docs)
    return 1 if any(r.error for r in results) else 0
