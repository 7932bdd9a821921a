"""`python -m local_model`: run the local Messages API server in the foreground."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
from pathlib import Path

from local_model.app import serve
from local_model.config import ModelServerConfig

DEFAULT_PORT = 8765


def parse_args(argv: list[str] | None = None) -> tuple[str, int, ModelServerConfig]:
    """Host, port and config from the command line."""
    parser = argparse.ArgumentParser(description="Local Anthropic Messages API server.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument("--scenario-dir", type=Path, action="append", default=[])
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added per response")
    parser.add_argument("--fault-rate", type=float, default=0.0)
    parser.add_argument("--fault-status", type=int, action="append", default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--record-dir", type=Path, default=None)
    parser.add_argument("--upstream-url", default=None)
    args = parser.parse_args(argv)
    config = ModelServerConfig(
        scenario_dirs=args.scenario_dir,
        latency_s=args.latency,
        fault_rate=args.fault_rate,
        fault_statuses=args.fault_status or [529],
        seed=args.seed,
        record_dir=args.record_dir,
        upstream_url=args.upstream_url,
    )
    return args.host, args.port, config


def main(argv: list[str] | None = None) -> None:
    """Serve until interrupted."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    host, port, config = parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(host, port, config))


if __name__ == "__main__":
    main()
