"""`agentstream orchestrator`: create the topics, then run the Faust worker."""

from __future__ import annotations

import argparse
import asyncio
import sys

from agents.faust_app import build_app
from agents.orchestrator import Orchestrator
from config import process
from config.settings import get_settings
from monitoring import metrics
from monitoring.log_limits import limit_client_repeats
from topics.admin import ensure_topics
from topics.names import Topics


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="agentstream orchestrator")
    parser.add_argument("--metrics-port", type=int, default=None)
    parser.add_argument("--log-level", default="info")
    args = parser.parse_args(argv)
    settings = get_settings()
    process.prepare(settings)  # before the first loop: this one, then faust's
    topics = Topics(settings.topic_prefix)
    asyncio.run(ensure_topics(settings.kafka, topics.core(), **settings.replication))
    metrics.serve(args.metrics_port if args.metrics_port is not None else settings.metrics_port)
    sys.setswitchinterval(settings.orchestrator_switch_interval_s)
    limit_client_repeats()
    app = build_app(settings)
    Orchestrator(app, settings)
    # faust's own CLI runs the worker; info level avoids its spinner and debug logging.
    sys.argv = ["agentstream-orchestrator", "worker", "--loglevel", args.log_level, "--without-web"]
    app.main()
    return 0
