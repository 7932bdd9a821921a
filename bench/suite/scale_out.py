"""Phase `scale_out`: tool calls/s of a 100 ms tool with 1, 2 and 4 worker processes.

The tool `work100` is an async sleep of 0.1 s; each worker runs with concurrency 1, so a
worker holds one call at a time and its ceiling is 10 calls/s (ideal: 10, 20, 40 calls/s).
Each conversation is `run work100 for job <i>` (one call). The tool's calls topic has 4
partitions, so up to 4 workers share it. Conversations are submitted with 8 per worker
unanswered at most, enough to keep a backlog at every worker; 100 calls per worker
(20 with --quick).

calls/s: the `tool_finished` events (`at`, the orchestrator applying each result) between
the 10th and the 90th percentile of their times, over that span. Efficiency: calls/s
divided by 10 x workers. `cpu_cores_busy`: CPU seconds per role over the load's wall time
(1.0 = one core), to tell a saturated host from idle workers.
"""

from __future__ import annotations

import time

from bench.suite.names import WORK100, WORK_S
from bench.suite.platform import Bench, Probe, Target, cpu_by_role, ids, log_findings, platform
from bench.suite.report import PhaseResult, Row, num
from bench.suite.stats import rounded, window_rate

WORKERS = (1, 2, 4)
EFFICIENCY_TARGET = 0.9
IN_FLIGHT_PER_WORKER = 8


def prompt(i: int) -> str:
    return f"run work100 for job {i}"


async def measure(target: Target, workers: int, calls: int) -> dict:
    jobs = [(cid, prompt(i)) for i, cid in enumerate(ids("scale", calls))]
    before, began = target.cpu(), time.monotonic()
    await target.run_bounded(jobs, [WORK100], IN_FLIGHT_PER_WORKER * workers)
    wall = time.monotonic() - began
    busy = {role: round(s / wall, 2) for role, s in cpu_by_role(before, target.cpu()).items()}
    finished = [
        event.at
        for cid, _ in jobs
        for event in target.observer.events[cid]
        if event.type == "tool_finished"
    ]
    rate, counted, span = window_rate(finished)
    ideal = workers / WORK_S
    return {
        "workers": workers,
        "tool_calls": len(finished),
        "calls_per_s": rounded(rate, 2),
        "ideal_per_s": ideal,
        "efficiency": rounded(rate / ideal, 3),
        "window": {"calls": counted, "span_s": round(span, 3)},
        "cpu_cores_busy": busy,
    }


async def run(bench: Bench) -> PhaseResult:
    per_worker = bench.size(100, 20)
    config = {
        "workers": list(WORKERS),
        "worker_concurrency": 1,
        "calls_per_worker": per_worker,
        "in_flight_per_worker": IN_FLIGHT_PER_WORKER,
        "tool_s": WORK_S,
    }
    result = PhaseResult("scale_out", config=config)
    for workers in WORKERS:
        name = f"scale-out-{workers}"
        async with platform(
            bench,
            name,
            {WORK100: workers},
            [Probe(prompt(0), WORK100, 1)],
            events=True,
            worker_concurrency=1,
        ) as target:
            figures = await measure(target, workers, per_worker * workers)
        result.figures[f"workers_{workers}"] = figures
        result.logs[name] = log_findings(bench.log_root / name)
        last = workers == WORKERS[-1]
        efficiency = figures["efficiency"]
        result.add(
            Row(
                f"scale-out, {workers} worker{'s' if workers > 1 else ''} x 100 ms tool",
                f"{num(figures['calls_per_s'])} calls/s",
                f"ideal {figures['ideal_per_s']:g} calls/s",
                f"{efficiency:.2f}x ideal" if efficiency is not None else "-",
                f"≥ {EFFICIENCY_TARGET:g}x linear" if last else "-",
                (efficiency is not None and efficiency >= EFFICIENCY_TARGET) if last else None,
            ),
            f"scale_out_efficiency_{workers}" if last else None,
        )
        result.ratios[f"calls_per_s_{workers}_vs_ideal"] = efficiency
    return result
