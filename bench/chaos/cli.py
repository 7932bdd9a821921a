"""`python -m bench.chaos`: arguments, the shared broker, each scenario in turn, the report."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from bench import chaos
from bench.chaos.brokers import BrokerHandle, LocalBroker
from bench.chaos.load import Load
from bench.chaos.paths import LOG_ROOT, RESULTS_DIR
from bench.chaos.report import table, write_results
from bench.chaos.runner import run_scenario
from bench.chaos.scenarios import DEFAULT_SCENARIOS, SCENARIOS
from bench.harness import begin_run


def parse_args(argv: list[str]) -> argparse.Namespace:
    """The harness's arguments; an unknown scenario name is refused before anything starts."""
    parser = argparse.ArgumentParser(prog="python -m bench.chaos", description=chaos.__doc__)
    parser.add_argument("--conversations", type=int, default=Load.conversations)
    parser.add_argument("--rate", type=float, default=Load.rate, help="requests per second")
    parser.add_argument("--scenarios", default=",".join(DEFAULT_SCENARIOS))
    parser.add_argument("--seed", type=int, default=Load.seed)
    parser.add_argument("--timeout", type=float, default=Load.timeout_s, help="per request")
    parser.add_argument("--json", type=Path, default=None, help="results file")
    parser.add_argument("--log-dir", type=Path, default=None)
    args = parser.parse_args(argv)
    unknown = [s for s in args.scenarios.split(",") if s not in SCENARIOS]
    if unknown:
        parser.error(f"unknown scenario(s) {unknown}; known: {', '.join(SCENARIOS)}")
    return args


def main(argv: list[str] | None = None) -> int:
    """Run the chosen scenarios in turn; exit 1 unless every one kept every invariant."""
    stamp = begin_run()
    args = parse_args(sys.argv[1:] if argv is None else argv)
    load = Load(args.conversations, args.rate, args.timeout, seed=args.seed)
    log_root = args.log_dir or LOG_ROOT / stamp
    shared: list[LocalBroker] = []

    def shared_broker() -> BrokerHandle:
        if not shared:
            shared.append(LocalBroker.start())
        return shared[0]

    began, results = time.monotonic(), []
    try:
        for name in args.scenarios.split(","):
            result = run_scenario(SCENARIOS[name], load, log_root, shared_broker)
            results.append(result)
            print(json.dumps(result.as_json()), flush=True)
    finally:
        for kafka in shared:
            kafka.stop()
    wall_s = time.monotonic() - began
    print(f"\n{table(results)}\nall scenarios: {wall_s:.0f}s wall; logs in {log_root}")
    out = args.json or RESULTS_DIR / f"chaos-{stamp}.json"
    write_results(out, load, wall_s, log_root, results)
    print(f"results: {out}")
    return 0 if all(r.ok for r in results) else 1
