"""Phase `memory`: orchestrator RSS per conversation in flight.

One orchestrator; tools noop and nap. A warm-up of 200 no-op conversations (50 with
--quick) runs to its end, so connections, caches and code paths exist; the orchestrator
is left idle and its RSS is read (VmRSS, /proc/<pid>/status: ~0 conversations in flight).
Then `n` conversations `nap for 60 seconds` are submitted in two halves; each stays in
flight, its nap call dispatched and waiting (one nap worker of concurrency 8 holds 8 of
them; the rest wait on the calls topic). After each half, once every conversation of it
has dispatched its call (its `model_call_finished` event was read) and the orchestrator
was left idle for 3 s, RSS is read again.

- KB per in-flight conversation: (RSS with all `n` - RSS before) / conversations still in
  flight at that reading (n minus those already answered), in KiB.
- `marginal_kb_per_conversation` (JSON): (RSS with all - RSS with half) / the second
  half's conversations, which leaves out one-off growth (buffers, first allocations).

Call leases are 600 s for this stack, so waiting calls are not re-published meanwhile.
"""

from __future__ import annotations

import asyncio

from bench.memory import rss_mb
from bench.suite.names import NAP, NOOP
from bench.suite.platform import Bench, Probe, Target, ids, log_findings, platform
from bench.suite.report import PhaseResult, Row, num

KB_TARGET = 5.0
IDLE_S = 3.0
DISPATCH_TIMEOUT_S = 300.0


async def hold(target: Target, cids: list[str], nap_s: float) -> None:
    """Submit nap conversations and wait until each has dispatched its call."""
    for cid in cids:
        await target.client.submit(cid, f"nap for {nap_s:g} seconds", [NAP], 900, wait=False)
    await target.client.flush()
    # The model call that asks for the nap has finished: its call is dispatched.
    await target.each_had(cids, "model_call_finished", DISPATCH_TIMEOUT_S, poll_s=0.5)
    await asyncio.sleep(IDLE_S)


async def measure(target: Target, n: int, nap_s: float, warmup: int) -> dict:
    pid = target.stack.processes["orchestrator"].pid
    warm = [(c, f"call noop for item {i}") for i, c in enumerate(ids("memwarm", warmup))]
    await target.run_bounded(warm, [NOOP], in_flight=warmup)
    await asyncio.sleep(IDLE_S)
    before_kb = rss_mb(pid) * 1024
    held = ids("held", n)
    await hold(target, held[: n // 2], nap_s)
    half_kb = rss_mb(pid) * 1024
    await hold(target, held[n // 2 :], nap_s)
    after_kb = rss_mb(pid) * 1024
    answered = sum(c in target.observer.replies for c in held)
    in_flight = n - answered
    second = n - n // 2
    return {
        "warmup": warmup,
        "rss_before_mb": round(before_kb / 1024, 1),
        "rss_half_mb": round(half_kb / 1024, 1),
        "rss_after_mb": round(after_kb / 1024, 1),
        "in_flight": in_flight,
        "answered_before_reading": answered,
        "kb_per_conversation": round((after_kb - before_kb) / max(in_flight, 1), 2),
        "marginal_kb_per_conversation": round((after_kb - half_kb) / second, 2),
    }


async def run(bench: Bench) -> PhaseResult:
    n, nap_s, warmup = bench.size(2000, 200), float(bench.size(60, 30)), bench.size(200, 50)
    config = {"n": n, "nap_s": nap_s, "warmup": warmup, "nap_worker_concurrency": 8}
    result = PhaseResult("memory", config=config)
    probes = [Probe("nap for 0.01 seconds", NAP, 1), Probe("call noop for item 0", NOOP, 1)]
    async with platform(
        bench,
        "memory",
        {NAP: 1, NOOP: 1},
        probes,
        events=True,
        env={"AGENTSTREAM_CALL_LEASE_S": "600"},
    ) as target:
        result.figures = await measure(target, n, nap_s, warmup)
    result.logs = log_findings(bench.log_root / "memory")
    figures = result.figures
    kb = figures["kb_per_conversation"]
    result.add(
        Row(
            f"orchestrator RSS per in-flight conversation ({figures['in_flight']} held)",
            num(kb, "KB", 2),
            target=f"≤ {KB_TARGET:g} KB",
            met=kb <= KB_TARGET,
        ),
        "memory_kb_per_conversation",
    )
    result.add(
        Row(
            "orchestrator RSS per in-flight conversation, second half only (marginal)",
            num(figures["marginal_kb_per_conversation"], "KB", 2),
        )
    )
    return result
