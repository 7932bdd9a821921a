"""Phase `fanout`: one turn of 5 parallel tool calls, each an async sleep of 0.8 s.

The prompt `nap for 0.8 seconds and ...` (5 clauses; the local model makes one call per
clause, `local_model/policy.py`) with tools=[nap] gives a conversation of two model calls
around one turn of 5 `nap(0.8)` calls, all dispatched together to one worker of
concurrency 8. Conversations run one after another, `reps` of them. Per conversation:

- wall: the suite's monotonic clock from just before the request's send to the moment its
  answer was read;
- model time: the time the conversation waited for model calls, from its events: for each
  model call, `model_call_started.at` (the ModelCall was sent) to the `at` of the next
  `model_call_finished` or `conversation_finished` (its result was applied), summed;
- wall minus model time: the 0.8 s of sleeping plus everything the platform adds around
  the turn (request intake, dispatch of 5 calls, gathering 5 results, the answer).

Events are read once the conversations are over, as in the hop phase.

Side by side, k=5 sleeps of 0.8 s for the same reps: one after another in one process,
`asyncio.gather` in one process, a Celery group (one task per sleep), and the turn's Kafka
hops alone (`bench.baselines.raw_kafka.raw_fanout`: plain aiokafka through an echo process,
a round trip for the request and its answer, then 5 requests the echo answers after
sleeping 0.8 s): what the 4 one-way hops of the turn cost on this broker and machine, with
the caller idle through the sleep as the orchestrator is.
"""

from __future__ import annotations

import uuid

from bench.suite import baselines
from bench.suite.hop import model_hops
from bench.suite.names import NAP
from bench.suite.observe import read_progress
from bench.suite.platform import Bench, Probe, Target, ids, log_findings, platform
from bench.suite.report import PhaseResult, Row, ms, ratio, ratio_text
from bench.suite.stats import percentile, summary_ms

K, SLEEP_S = 5, 0.8
OVERHEAD_TARGET_MS = 808.0


def prompt(k: int = K, seconds: float = SLEEP_S) -> str:
    return " and ".join([f"nap for {seconds:g} seconds"] * k)


async def measure(target: Target, reps: int, bootstrap: str) -> dict:
    walls, models, rest = [], [], []
    runs = []
    for cid in ids("fanout", reps):
        sent, reply = await target.converse(cid, prompt(), [NAP])
        if reply.body.get("tool_calls") != K:
            raise RuntimeError(f"{cid}: want {K} nap calls, got {reply.body.get('tool_calls')}")
        runs.append((cid, reply.received - sent))
    progress = await read_progress(bootstrap, target.topics, [cid for cid, _ in runs])
    for cid, wall in runs:
        model = sum(model_hops(progress.events[cid]))
        walls.append(wall)
        models.append(model)
        rest.append(wall - model)
    return {
        "wall": summary_ms(walls),
        "model_time": summary_ms(models),
        "wall_minus_model": summary_ms(rest),
        "beyond_sleep_p50_ms": round(percentile(rest, 50) * 1000 - SLEEP_S * 1000, 3),
    }


async def run(bench: Bench) -> PhaseResult:
    reps = bench.size(10, 3)
    config = {"k": K, "sleep_s": SLEEP_S, "reps": reps, "worker_concurrency": 8}
    result = PhaseResult("fanout", config=config)
    probe = Probe(prompt(K, 0.01), NAP, K)
    async with platform(bench, "fanout", {NAP: 1}, [probe], worker_concurrency=8) as t:
        result.figures = await measure(t, reps, bench.bootstrap)
    result.logs = log_findings(bench.log_root / "fanout")
    outcomes = baselines.Outcomes("fanout")
    async with outcomes.attempt("raw_kafka"):
        walls = await baselines.raw_fanout(
            bench.bootstrap,
            K,
            SLEEP_S,
            reps,
            f"benchfan{uuid.uuid4().hex[:6]}.",
            bench.log_root / "raw-kafka-fanout",
        )
        outcomes.figures["raw_kafka"] = summary_ms(walls)
    for kind in ("sequential", "gather"):
        async with outcomes.attempt(kind):
            walls = await baselines.in_process_fanout(kind, K, SLEEP_S, reps)
            outcomes.figures[kind] = summary_ms(walls)
    async with outcomes.attempt("celery"):
        walls = await baselines.with_celery(
            bench.log_root / "celery-fanout", lambda session: session.fanout(K, SLEEP_S, reps)
        )
        outcomes.figures["celery"] = summary_ms(walls)
    result.baselines, result.skips = outcomes.figures, outcomes.skips
    rows(result)
    return result


def rows(result: PhaseResult) -> None:
    figures, base = result.figures, result.baselines
    mine = figures["wall_minus_model"].get("p50_ms")
    labels = {
        "gather": "asyncio.gather",
        "celery": "Celery group",
        "raw_kafka": "its Kafka hops alone",
        "sequential": "sequential",
    }
    pairs = [(label, ratio(mine, base.get(k, {}).get("p50_ms"))) for k, label in labels.items()]
    for (_label, value), key in zip(pairs, labels, strict=True):
        result.ratios[f"wall_minus_model_p50_vs_{key}"] = value
    shown = "; ".join(f"{label} {ms(base.get(k, {}).get('p50_ms'))}" for k, label in labels.items())
    result.add(
        Row(
            f"fan-out {K}x{SLEEP_S:g}s: wall - model time, p50",
            ms(mine),
            shown,
            ratio_text(pairs),
            f"≤ {OVERHEAD_TARGET_MS:g} ms",
            mine is not None and mine <= OVERHEAD_TARGET_MS,
        ),
        "fanout_wall_minus_model_p50",
    )
    model = figures["model_time"]
    p50, p90 = model.get("p50_ms"), model.get("p90_ms")
    result.add(
        Row(
            "fan-out model time p50 / p90",
            f"{ms(p50)} / {ms(p90)}",
            target="p90 ≤ 2x p50",
            met=p50 is not None and p90 is not None and p90 <= 2 * p50,
        ),
        "fanout_model_p90_le_2x_p50",
    )
