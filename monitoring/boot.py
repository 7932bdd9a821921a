"""The common start of every long-running aiokafka process: logging, settings, event loop
and garbage collector (`config.process`), /metrics."""

from __future__ import annotations

import logging

from config import process
from config.settings import Settings, get_settings
from monitoring import metrics
from monitoring.log_limits import limit_client_repeats

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"
PER_REQUEST_LOGGERS = ("httpx", "httpx2")
"""They log every HTTP request at INFO: a line per model call, and 2% of the model
worker's CPU; attempts and failures are counted in the metrics instead."""


def boot(metrics_port: int | None) -> Settings:
    """Configure logging, read the settings, prepare the process (`config.process`: call
    this once the modules are imported, before the first loop) and serve /metrics (flag
    wins over setting)."""
    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT, force=True)
    for name in PER_REQUEST_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    limit_client_repeats()
    settings = get_settings()
    process.prepare(settings)
    metrics.serve(metrics_port if metrics_port is not None else settings.metrics_port)
    return settings
