"""Every orchestrator instance's full copy of the compacted tool.registry topic.

A plain aiokafka reader with no consumer group (every instance must see every tool),
replaying from the beginning; `ready` is set once it has caught up with the end offsets.
The topic's format stays owned by `topics/`, so tool workers never depend on Faust's
changelog conventions. Any process in any language may publish an entry, so each one is
validated as it is read (bounded decode, name equals key, a usable JSON schema); a bad
entry is ignored with a log line and a metric, and the previous one for that name stays.
"""

from __future__ import annotations

import asyncio
import logging

from aiokafka import AIOKafkaConsumer, TopicPartition

from agents.schemas import schema_error
from monitoring import metrics
from topics.codec import DecodeError, decode
from topics.messages import ToolSpec

log = logging.getLogger(__name__)


class RegistryView:
    """tool name -> latest ToolSpec, kept current by tailing the registry topic."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        self.tools: dict[str, ToolSpec] = {}
        self.ready = asyncio.Event()
        self._bootstrap, self._topic = bootstrap, topic

    async def run(self) -> None:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self._bootstrap,
            enable_auto_commit=False,
            fetch_max_wait_ms=200,
            group_id=None,
        )
        await consumer.start()
        try:
            partitions = consumer.partitions_for_topic(self._topic) or {0}
            tps = [TopicPartition(self._topic, p) for p in partitions]
            consumer.assign(tps)
            await consumer.seek_to_beginning(*tps)
            end = await consumer.end_offsets(tps)
            while True:
                batch = await consumer.getmany(timeout_ms=200)
                for records in batch.values():
                    for record in records:
                        self._apply(record.key, record.value)
                if not self.ready.is_set() and await self._caught_up(consumer, end):
                    self.ready.set()
                    log.info("Tool registry loaded: %s.", ", ".join(sorted(self.tools)) or "none")
        finally:
            await consumer.stop()

    @staticmethod
    async def _caught_up(consumer: AIOKafkaConsumer, end: dict[TopicPartition, int]) -> bool:
        for tp, offset in end.items():
            if await consumer.position(tp) < offset:
                return False
        return True

    def _apply(self, key: bytes | None, value: bytes | None) -> None:
        if key is None:
            return
        name = key.decode(errors="replace")
        if value is None:
            self.tools.pop(name, None)  # tombstone: the tool was retired
            return
        try:
            spec = decode(value, ToolSpec)
        except DecodeError as exc:
            self._reject(name, "undecodable", str(exc))
            return
        if spec.name != name:
            self._reject(name, "name_mismatch", f"its key differs from its name {spec.name!r}")
            return
        problem = schema_error(spec.input_schema)
        if problem:
            self._reject(name, "invalid_schema", f"input_schema is not a JSON schema: {problem}")
            return
        if name not in self.tools:
            log.info("Tool %s is now available.", name)
        self.tools[name] = spec

    @staticmethod
    def _reject(name: str, reason: str, detail: str) -> None:
        metrics.REGISTRY_REJECTED.labels(reason).inc()
        log.warning("Ignoring registry entry %r: %s.", name[:100], detail[:300])
