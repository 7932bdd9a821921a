"""The platform seen from outside: raw bytes in with a plain aiokafka producer, responses,
events and dead letters read back as JSON (what any team's Kafka client would do)."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.structs import ConsumerRecord

from tests.support.waiting import wait_until
from topics.connection import Target, connection
from topics.names import Topics


@dataclass
class Wire:
    """Publish raw records; collect everything written to the watched topics since start."""

    bootstrap: Target
    """The cluster; a Connection reaches a secured one (plain aiokafka clients either way)."""
    topics: Topics
    watched: list[str] = field(default_factory=list)
    compression: str | None = None
    """Batch compression of the records this client publishes (any Kafka codec)."""
    records: dict[str, list[ConsumerRecord]] = field(default_factory=dict)

    async def __aenter__(self) -> Wire:
        self.watched = self.watched or [
            self.topics.agent_responses.name,
            self.topics.agent_events.name,
            self.topics.dead_letters.name,
        ]
        kafka = connection(self.bootstrap).options()
        self.producer = AIOKafkaProducer(
            **kafka, max_request_size=16 * 1024 * 1024, compression_type=self.compression
        )
        self.consumer = AIOKafkaConsumer(
            **kafka,
            fetch_max_wait_ms=50,
            max_partition_fetch_bytes=16 * 1024 * 1024,
            enable_auto_commit=False,
        )
        await self.producer.start()
        await self.consumer.start()
        tps = await self._partitions(self.watched)
        self.consumer.assign(tps)
        await self.consumer.seek_to_end(*tps)
        for tp in tps:
            await self.consumer.position(tp)
        self.records = {t: [] for t in self.watched}
        return self

    async def _partitions(self, topics: list[str]) -> list[TopicPartition]:
        """Every partition of `topics`, from the broker (reply topics have any count)."""
        admin = AIOKafkaAdminClient(**connection(self.bootstrap).options())
        await admin.start()
        try:
            described = await admin.describe_topics(topics)
        finally:
            await admin.close()
        return [
            TopicPartition(d["topic"], p["partition"]) for d in described for p in d["partitions"]
        ]

    async def __aexit__(self, *exc: object) -> None:
        await self.producer.stop()
        await self.consumer.stop()

    async def publish(
        self, value: bytes, key: bytes | None = None, topic: str | None = None
    ) -> tuple[int, int]:
        """Send one record (default: to agent.requests); returns (partition, offset)."""
        meta = await self.producer.send_and_wait(
            topic or self.topics.agent_requests.name, value, key=key
        )
        return meta.partition, meta.offset

    async def request(self, body: dict[str, Any], keyed: bool = True) -> str:
        key = str(body["conversation_id"]).encode() if keyed else None
        await self.publish(json.dumps(body).encode(), key=key)
        return str(body["conversation_id"])

    async def poll(self) -> None:
        batch = await self.consumer.getmany(timeout_ms=100)
        for tp, records in batch.items():
            self.records[tp.topic].extend(records)

    def on(self, topic: str) -> list[dict[str, Any]]:
        return [json.loads(r.value) for r in self.records[topic]]

    def responses(self, conversation_id: str) -> list[dict[str, Any]]:
        topic = self.topics.agent_responses.name
        return [r for r in self.on(topic) if r["conversation_id"] == conversation_id]

    async def wait_for(self, predicate: Any, timeout_s: float, what: str) -> None:
        async def ready() -> bool:
            await self.poll()
            return bool(predicate())

        await wait_until(ready, timeout_s, what)

    async def response(self, conversation_id: str, timeout_s: float = 30) -> dict[str, Any]:
        """The one response for `conversation_id` on the default topic."""
        await self.wait_for(
            lambda: self.responses(conversation_id),
            timeout_s,
            f"a response for {conversation_id[:40]}",
        )
        (only,) = self.responses(conversation_id)
        return only

    async def collect(self, topic: str, count: int, timeout_s: float = 60) -> list[dict[str, Any]]:
        """Every record read from watched `topic`, as JSON, once at least `count` arrived."""
        await self.wait_for(
            lambda: len(self.records[topic]) >= count, timeout_s, f"{count} records on {topic}"
        )
        return self.on(topic)

    async def settle(self, seconds: float) -> None:
        """Keep collecting for `seconds` (to show that nothing more arrives)."""
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            await self.poll()
