"""`agentstream topics create [--tool NAME ...]`."""

from __future__ import annotations

import argparse
import asyncio

from config.settings import get_settings
from topics.admin import ensure_topics, platform_topics
from topics.names import Topics


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="agentstream topics")
    parser.add_argument("action", choices=["create", "list"])
    parser.add_argument(
        "--tool",
        action="append",
        default=[],
        help="also create tool.NAME.calls and tool.NAME.registry (repeatable)",
    )
    parser.add_argument(
        "--client",
        action="append",
        default=[],
        help="also create the reply topic replies.NAME (repeatable)",
    )
    args = parser.parse_args(argv)
    settings = get_settings()
    topics = Topics(settings.topic_prefix)
    try:
        specs = platform_topics(topics, args.tool) + [topics.reply_topic(c) for c in args.client]
    except ValueError as exc:  # a tool or client name that cannot be part of a topic name
        parser.error(str(exc))
    if args.action == "list":
        for spec in specs:
            print(f"{spec.name}\tpartitions={spec.partitions}\t{spec.config}")
        return 0
    created = asyncio.run(ensure_topics(settings.kafka, specs, **settings.replication))
    print(
        f"created {len(created)} topics"
        + (f": {', '.join(created)}" if created else " (all existed)")
    )
    return 0
