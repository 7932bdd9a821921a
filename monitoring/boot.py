"""The common start of every long-running aiokafka process: logging, settings, /metrics."""

from __future__ import annotations

import logging

from config.settings import Settings, get_settings
from monitoring import metrics

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"


def boot(metrics_port: int | None) -> Settings:
    """Configure logging, read the settings and serve /metrics (flag wins over setting)."""
    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT, force=True)
    settings = get_settings()
    metrics.serve(metrics_port if metrics_port is not None else settings.metrics_port)
    return settings
