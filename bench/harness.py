"""What every bench command does first: clean interruption, quiet client logs, a run stamp."""

from __future__ import annotations

import logging
import signal
from datetime import UTC, datetime


def _interrupt(signum: int, frame: object) -> None:
    """SIGTERM unwinds like Ctrl-C, so every `finally` stops what this run started."""
    raise KeyboardInterrupt


def utc_stamp() -> str:
    """Now, as the run names in bench/results use it."""
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")


def begin_run() -> str:
    """Prepare this process for a bench run; returns the run's stamp.

    The harness's own clients retry through new topics' leader elections and broker
    restarts; what matters is measured from the answers, not from aiokafka's log lines.
    """
    signal.signal(signal.SIGTERM, _interrupt)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(message)s")
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    return utc_stamp()
