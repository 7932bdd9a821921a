"""`agentstream lag-exporter`: consumer lag per group and topic, and topic sizes, as gauges."""

from __future__ import annotations

import argparse
import asyncio
import logging

from aiokafka import TopicPartition

from config.settings import Settings
from monitoring import metrics
from monitoring.boot import boot
from topics import clients

log = logging.getLogger(__name__)
INTERVAL_S = 5.0


class LagExporter:
    """Reads end offsets and committed offsets of the platform's topics and groups."""

    def __init__(self, settings: Settings) -> None:
        self._bootstrap = settings.kafka
        self._prefix = settings.topic_prefix
        self._admin = clients.admin(self._bootstrap)
        self._offsets = clients.consumer(self._bootstrap, group_id=None)

    async def start(self) -> None:
        await self._admin.start()
        await self._offsets.start()

    async def stop(self) -> None:
        await clients.stop_consumer(self._offsets)
        await self._admin.close()

    async def collect(self) -> None:
        """One pass: refresh both gauges for every topic and group under our prefix."""
        topics = [
            t
            for t in await self._admin.list_topics()
            if t.startswith(self._prefix) and not t.startswith("__")
        ]
        described = await self._admin.describe_topics(topics)
        tps = [
            TopicPartition(t["topic"], p["partition"])
            for t in described
            for p in t.get("partitions", [])
        ]
        ends = await self._offsets.end_offsets(tps) if tps else {}
        for topic in topics:
            metrics.TOPIC_MESSAGES.labels(topic).set(
                sum(o for tp, o in ends.items() if tp.topic == topic)
            )
        for group, _protocol in await self._admin.list_consumer_groups():
            if self._prefix and not group.startswith(self._prefix):
                continue
            committed = await self._admin.list_consumer_group_offsets(group)
            lag: dict[str, int] = {}
            for tp, meta in committed.items():
                if tp in ends and meta.offset >= 0:
                    lag[tp.topic] = lag.get(tp.topic, 0) + max(ends[tp] - meta.offset, 0)
            for topic, value in lag.items():
                metrics.CONSUMER_LAG.labels(topic, group).set(value)


async def serve(settings: Settings, interval_s: float) -> None:
    exporter = LagExporter(settings)
    await exporter.start()
    try:
        while True:
            try:
                await exporter.collect()
            except Exception as exc:  # keep exporting through broker hiccups
                log.warning("Lag collection failed: %s.", exc)
            await asyncio.sleep(interval_s)
    finally:
        await exporter.stop()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="agentstream lag-exporter")
    parser.add_argument("--metrics-port", type=int, default=None)
    parser.add_argument("--interval", type=float, default=INTERVAL_S)
    args = parser.parse_args(argv)
    settings = boot(args.metrics_port)
    asyncio.run(serve(settings, args.interval))
    return 0
