"""How the local Messages API server is configured, from code or from the command line
(`agentstream model-server`, `python -m local_model`)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator

from config.settings import DEFAULT_MODEL, get_settings
from local_model.server import serve


class ModelServerConfig(BaseModel):
    """Knobs that make the local model slow, flaky, scripted or a recording proxy."""

    model_config = ConfigDict(frozen=True)

    scenario_dirs: list[Path] = Field(default_factory=list)
    """Extra directories searched for `<name>.json` scenarios, after the built-in ones."""
    latency_s: float = Field(default=0.0, ge=0.0)
    """Delay added before every Messages API response."""
    fault_rate: float = Field(default=0.0, ge=0.0, le=1.0)
    """Fraction of requests answered with one of `fault_statuses` instead of a message."""
    fault_statuses: list[int] = Field(default_factory=lambda: [529], min_length=1)
    seed: int = 0
    """Seeds the fault sequence, so a run's faults repeat exactly."""
    record_dir: Path | None = None
    """Where forwarded exchanges are saved as scenarios (needs `upstream_url`)."""
    upstream_url: str | None = None
    """A real Messages API base URL; when set every request is forwarded there."""
    model_name: str = DEFAULT_MODEL
    """Model reported when a request names none; otherwise the request's model is echoed."""

    @field_validator("fault_statuses")
    @classmethod
    def _http_error_statuses(cls, statuses: list[int]) -> list[int]:
        """Only 4xx/5xx make sense as injected faults."""
        bad = [status for status in statuses if not 400 <= status <= 599]
        if bad:
            raise ValueError(f"fault_statuses must be HTTP error codes (400-599), got {bad}")
        return statuses


def parse_args(argv: list[str] | None = None) -> tuple[str, int, ModelServerConfig]:
    """Host, port and config from the command line; the port defaults to the settings'
    `local_model_port` (`AGENTSTREAM_LOCAL_MODEL_PORT`)."""
    parser = argparse.ArgumentParser(description="Local Anthropic Messages API server.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=None, help="0 picks a free port")
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
    port = get_settings().local_model_port if args.port is None else args.port
    return args.host, port, config


def main(argv: list[str] | None = None) -> int:
    """Serve in the foreground until interrupted."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    host, port, config = parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(host, port, config))
    return 0
