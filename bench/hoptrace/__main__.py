"""`python -m bench.hoptrace`: trace tool hops on a fresh platform, print their steps."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import uuid
from pathlib import Path

from bench.baselines.raw_kafka import keep_busy
from bench.chaos.brokers import LocalBroker
from bench.chaos.paths import ROOT
from bench.hoptrace import recorder
from bench.hoptrace.segments import hop_steps, read
from bench.suite.cli import WARM_BROKER_S
from bench.suite.hop import WARMUP, prompt
from bench.suite.names import NOOP
from bench.suite.platform import RUNNING, Bench, Probe, ids, platform
from bench.suite.stats import summary_ms
from config import event_loop
from config.settings import get_settings

SITE = Path(__file__).resolve().parent / "site"
TAG = "traced"
FLUSHED_AFTER_S = 1.5
"""Every process writes its marks each second: waited before the platform stops."""


async def trace(bootstrap: str, conversations: int, out: Path, warm_s: float) -> None:
    if warm_s > 0:
        await keep_busy(bootstrap, warm_s, f"hoptracewarm{uuid.uuid4().hex[:6]}.")
    env = {"PYTHONPATH": f"{SITE}:{ROOT}", recorder.ENV: str(out)}
    bench = Bench(bootstrap, out / "logs", quick=False)
    async with platform(bench, "hoptrace", {NOOP: 1}, [Probe(prompt(0), NOOP, 1)], env=env) as t:
        for cid in ids("warm", WARMUP):  # left out, as the hop phase leaves them out
            await t.converse(cid, prompt(0), [NOOP])
        for i, cid in enumerate(ids(TAG, conversations)):
            await t.converse(cid, prompt(i), [NOOP])
        await asyncio.sleep(FLUSHED_AFTER_S)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.hoptrace", description=__doc__)
    parser.add_argument("--conversations", type=int, default=500)
    parser.add_argument(
        "--warm-broker-s",
        type=float,
        default=WARM_BROKER_S,
        help="plain Kafka round trips first, for this long (0: none)",
    )
    parser.add_argument("--out", type=Path, default=None, help="trace files (default: temp)")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    out = args.out or Path(tempfile.mkdtemp(prefix="agentstream-hoptrace-"))
    event_loop.use(get_settings().event_loop)
    local = LocalBroker.start()
    try:
        asyncio.run(trace(local.bootstrap, args.conversations, out, args.warm_broker_s))
    finally:
        for stack in list(RUNNING):
            stack.stop()
        local.stop()
    steps = hop_steps(read(out), NOOP, prefix=f"{TAG}-")
    print(json.dumps({name: summary_ms(seconds) for name, seconds in steps.items()}, indent=2))
    print(f"trace files: {out}", file=sys.stderr)
    return 0 if steps["hop"] else 1


if __name__ == "__main__":
    sys.exit(main())
