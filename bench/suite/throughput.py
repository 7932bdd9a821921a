"""Phase `throughput`: conversations per second at steady state, and CPU per unit of work.

Each conversation is `call noop for item <i> part 1 and ... part 2 and ... part 3` with
tools=[noop]: a model call asking for 3 parallel no-op calls, the 3 calls, a second model
call that answers (2 model calls, 3 tool calls). `n` of them are submitted as fast as the
platform takes them, never more than `in_flight` unanswered (a new request is sent when
an answer is read), first with 1 and then with 2 orchestrator processes in one Faust
group; one model worker, one noop worker (concurrency 32), the local model server.

- conversations/s: answers read between the 10th and the 90th percentile of the answers'
  read times, divided by that span (ramp-up and drain left out); `overall_per_s` in the
  JSON is n over first send -> last answer. tool calls/s: the same window times the mean
  `tool_calls` per answer.
- CPU: utime+stime from /proc/<pid>/stat of every platform process (and its children),
  read after a warm-up batch and again when the last answer is read; the difference per
  role, divided by n (orchestrator ms per conversation), by the model calls (sum of
  `iterations` in the answers: model worker and model server ms per call) and by the tool
  calls (tool worker ms per call). The broker's and the suite's own CPU are recorded
  too: the suite's process (submitting, reading answers) shares the 2 cores.
- also recorded, from the progress events read after the measurement (a live reader of
  them took the suite 1.3-2.3 ms of CPU per conversation, and the broker more, on the same
  2 cores): `call_redriven` events (calls re-published after their lease ran out while
  queued) and the model hop under this load (see `hop`).

Side by side: the orchestrator's Kafka traffic alone (`bench.baselines.kafka_relay`: the
same 6 records in and 17 out per conversation through plain aiokafka, no faust, no logic),
started at each platform run's own conversations/s, beside the orchestrator's CPU; the
Celery+Redis no-op throughput (3n tasks, as many as the tool calls);
its worker's CPU per task beside the noop worker's CPU per tool call; and the first model
call of a conversation made in-process (`bench.baselines.model_call`), through the model
worker's own SDK client and as a plain HTTP POST, beside the model worker's CPU per call.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid

from bench.suite import baselines
from bench.suite.hop import model_hops
from bench.suite.names import NOOP, TOOLS_MODULE
from bench.suite.observe import read_progress
from bench.suite.platform import Bench, Probe, Target, cpu_by_role, ids, log_findings, platform
from bench.suite.report import PhaseResult, Row, num, ratio, ratio_text
from bench.suite.stats import rounded, summary_ms, window_rate
from tool_workers.definitions import load

CALLS = 3
MODEL_CALLS_IN_PROCESS = 1000
CONVERSATIONS_TARGET, TOOL_CALLS_TARGET = 200.0, 600.0
ORCHESTRATOR_CPU_MS_TARGET, MODEL_WORKER_CPU_MS_TARGET = 2.0, 1.0


def _own_cpu() -> float:
    """User + system CPU seconds of the suite's own process."""
    times = os.times()
    return times.user + times.system


def prompt(i: int) -> str:
    return " and ".join(f"call noop for item {i} part {p}" for p in range(1, CALLS + 1))


async def measure(target: Target, bench: Bench, n: int, in_flight: int) -> dict:
    extra = {"broker": bench.broker_pid} if bench.broker_pid else {}
    warm = ids("warm", bench.size(200, 40))
    await target.run_bounded([(c, prompt(i)) for i, c in enumerate(warm)], [NOOP], in_flight)
    await asyncio.sleep(1.0)
    jobs = [(cid, prompt(i)) for i, cid in enumerate(ids("tp", n))]
    before, own = target.cpu(extra), _own_cpu()
    began = time.monotonic()
    sent = await target.run_bounded(jobs, [NOOP], in_flight)
    after = target.cpu(extra) | {"suite": _own_cpu() - own}
    replies = [target.observer.replies[cid] for cid, _ in jobs]
    last = max(r.received for r in replies)
    rate, counted, span = window_rate([r.received for r in replies])
    tool_calls = sum(r.body.get("tool_calls", 0) for r in replies)
    model_calls = sum(r.body.get("iterations", 0) for r in replies)
    statuses: dict[str, int] = {}
    for r in replies:
        statuses[r.body["status"]] = statuses.get(r.body["status"], 0) + 1
    cpu = cpu_by_role(before, after)
    progress = (await read_progress(bench.bootstrap, target.topics, [c for c, _ in jobs])).events
    events = [e for cid, _ in jobs for e in progress[cid]]
    hops = [h for cid, _ in jobs for h in model_hops(progress[cid])]
    per = {
        "orchestrator_ms_per_conversation": cpu.get("orchestrator", 0) * 1000 / n,
        "model_worker_ms_per_model_call": cpu.get("model-worker", 0) * 1000 / model_calls,
        "model_server_ms_per_model_call": cpu.get("model-server", 0) * 1000 / model_calls,
        "tool_worker_ms_per_tool_call": cpu.get("tool-worker", 0) * 1000 / max(tool_calls, 1),
        "broker_ms_per_conversation": cpu.get("broker", 0) * 1000 / n,
    }
    return {
        "conversations_per_s": rounded(rate, 1),
        "tool_calls_per_s": rounded(rate * tool_calls / n, 1),
        "window": {"answers": counted, "span_s": round(span, 3)},
        "overall_per_s": round(n / (last - min(sent.values())), 1),
        "wall_s": round(last - began, 3),
        "tool_calls": tool_calls,
        "model_calls": model_calls,
        "statuses": statuses,
        "calls_redriven_events": sum(e.type == "call_redriven" for e in events),
        "model_hop": summary_ms(hops),
        "cpu_s": cpu,
        "cpu": {key: round(value, 3) for key, value in per.items()},
    }


async def run(bench: Bench) -> PhaseResult:
    n, in_flight = bench.size(2000, 200), bench.size(400, 100)
    config = {
        "n": n,
        "in_flight": in_flight,
        "orchestrators": [1, 2],
        "tool_calls_each": CALLS,
        "model_workers": 1,
        "tool_workers": 1,
        "worker_concurrency": 32,
        "celery_tasks": CALLS * n,
    }
    result = PhaseResult("throughput", config=config)
    for orchestrators in (1, 2):
        name = f"throughput-{orchestrators}"
        async with platform(
            bench,
            name,
            {NOOP: 1},
            [Probe(prompt(0), NOOP, CALLS)],
            orchestrators=orchestrators,
            worker_concurrency=32,
        ) as target:
            result.figures[f"orchestrators_{orchestrators}"] = await measure(
                target, bench, n, in_flight
            )
        result.logs[name] = log_findings(bench.log_root / name)
    outcomes = baselines.Outcomes("throughput")
    for orchestrators in (1, 2):
        rate = result.figures[f"orchestrators_{orchestrators}"]["conversations_per_s"]
        async with outcomes.attempt(f"kafka_relay_{orchestrators}"):
            outcomes.figures[f"kafka_relay_{orchestrators}"] = await baselines.relay_cpu(
                bench.bootstrap,
                n,
                rate,
                in_flight,
                f"benchrelay{uuid.uuid4().hex[:6]}.",
                bench.log_root / "kafka-relay",
            )
    async with outcomes.attempt("celery"):
        outcomes.figures["celery"] = await baselines.with_celery(
            bench.log_root / "celery-throughput",
            lambda session: session.throughput(config["celery_tasks"]),
        )
    async with outcomes.attempt("model_call"):
        noop = load([TOOLS_MODULE])[NOOP].spec()
        outcomes.figures["model_call"] = await baselines.model_call_cpu(
            bench.size(MODEL_CALLS_IN_PROCESS, 200),
            prompt(0),
            [noop],
            bench.log_root / "model-call",
        )
    result.baselines, result.skips = outcomes.figures, outcomes.skips
    rows(result)
    return result


def rows(result: PhaseResult) -> None:
    celery = result.baselines.get("celery", {}).get("tasks_per_s")
    celery_cpu = result.baselines.get("celery", {}).get("worker_cpu_s")
    celery_ms = None if celery_cpu is None else celery_cpu * 1000 / result.config["celery_tasks"]
    for orchestrators in (1, 2):
        figures = result.figures[f"orchestrators_{orchestrators}"]
        label = f"{orchestrators} orchestrator{'s' if orchestrators > 1 else ''}"
        conv, calls = figures["conversations_per_s"], figures["tool_calls_per_s"]
        result.add(
            Row(
                f"conversations/s, {label}",
                num(conv),
                target=f"≥ {CONVERSATIONS_TARGET:g}",
                met=conv is not None and conv >= CONVERSATIONS_TARGET,
            ),
            f"conversations_per_s_{orchestrators}",
        )
        pair = ("Celery no-op tasks/s", ratio(calls, celery))
        result.ratios[f"tool_calls_per_s_{orchestrators}_vs_celery_tasks_per_s"] = pair[1]
        result.add(
            Row(
                f"tool calls/s, {label}",
                num(calls),
                f"Celery no-op {num(celery)} tasks/s",
                ratio_text([pair]),
                f"≥ {TOOL_CALLS_TARGET:g}",
                calls is not None and calls >= TOOL_CALLS_TARGET,
            ),
            f"tool_calls_per_s_{orchestrators}",
        )
        cpu = figures["cpu"]
        orch = cpu["orchestrator_ms_per_conversation"]
        relay = result.baselines.get(f"kafka_relay_{orchestrators}", {})
        relay_ms = relay.get("relay_ms_per_conversation")
        pair = ("its records through plain aiokafka", ratio(orch, relay_ms))
        result.ratios[f"orchestrator_cpu_{orchestrators}_vs_kafka_relay"] = pair[1]
        result.add(
            Row(
                f"orchestrator CPU per conversation, {label}",
                f"{orch:.2f} ms",
                "-"
                if relay_ms is None
                else f"the same 6 records in, 17 out, plain aiokafka, no logic: {relay_ms:.2f} ms"
                f" (at {relay['conversations_per_s']:.1f}/s)",
                ratio_text([pair]),
                f"≤ {ORCHESTRATOR_CPU_MS_TARGET:g} ms",
                orch <= ORCHESTRATOR_CPU_MS_TARGET,
            ),
            f"orchestrator_cpu_ms_{orchestrators}",
        )
        model = cpu["model_worker_ms_per_model_call"]
        in_process = result.baselines.get("model_call", {})
        sdk_ms, http_ms = in_process.get("sdk"), in_process.get("http")
        pairs = [
            ("the SDK call alone", ratio(model, sdk_ms)),
            ("HTTP alone", ratio(model, http_ms)),
        ]
        result.ratios[f"model_worker_cpu_{orchestrators}_vs_sdk_call"] = pairs[0][1]
        same_call = "-"
        if sdk_ms is not None and http_ms is not None:
            same_call = f"same call in-process: SDK {sdk_ms:.2f} ms; HTTP POST {http_ms:.2f} ms"
        result.add(
            Row(
                f"model worker CPU per model call, {label}",
                f"{model:.2f} ms",
                same_call,
                ratio_text(pairs),
                f"≤ {MODEL_WORKER_CPU_MS_TARGET:g} ms",
                model <= MODEL_WORKER_CPU_MS_TARGET,
            ),
            f"model_worker_cpu_ms_{orchestrators}",
        )
        broker_ms = cpu.get("broker_ms_per_conversation")
        if broker_ms:
            # The broker shares the 2 cores: its cost per conversation caps throughput too.
            result.add(
                Row(
                    f"Kafka broker CPU per conversation, {label}",
                    f"{broker_ms:.2f} ms (alone caps 2 cores at {2000 / broker_ms:.0f}/s)",
                )
            )
        tool = cpu["tool_worker_ms_per_tool_call"]
        pair = ("Celery worker", ratio(tool, celery_ms))
        result.ratios[f"tool_worker_cpu_{orchestrators}_vs_celery_worker_cpu"] = pair[1]
        result.add(
            Row(
                f"tool worker CPU per tool call, {label}",
                f"{tool:.2f} ms",
                f"Celery worker {'n/a' if celery_ms is None else f'{celery_ms:.2f} ms'} per task",
                ratio_text([pair]),
            )
        )
