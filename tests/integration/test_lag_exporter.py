"""The lag exporter reads real end offsets and committed offsets from the broker."""

from __future__ import annotations

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.structs import OffsetAndMetadata

from config.settings import Settings
from monitoring import metrics
from monitoring.lag_exporter import LagExporter
from tests.conftest import KafkaUnderTest
from tests.support.kafka import create_topic
from tests.support.waiting import wait_until

pytestmark = pytest.mark.integration


async def test_lag_and_topic_size_match_the_broker(kafka: KafkaUnderTest, unique: str) -> None:
    prefix = f"{unique}."
    topic, group = f"{prefix}tool.sleep.calls", f"{prefix}tool-workers.sleep"
    await create_topic(kafka.bootstrap_servers, topic, 2)
    producer = AIOKafkaProducer(bootstrap_servers=kafka.bootstrap_servers)
    await producer.start()
    try:
        for i in range(7):
            await producer.send_and_wait(topic, b"x", partition=i % 2)
    finally:
        await producer.stop()
    member = AIOKafkaConsumer(
        topic, bootstrap_servers=kafka.bootstrap_servers, group_id=group, enable_auto_commit=False
    )
    await member.start()
    try:
        await wait_until(lambda: _assigned(member), 30, "the member to own both partitions")
        tps = [TopicPartition(topic, 0), TopicPartition(topic, 1)]
        await member.commit({tps[0]: OffsetAndMetadata(3, ""), tps[1]: OffsetAndMetadata(1, "")})
        exporter = LagExporter(
            Settings(kafka_bootstrap_servers=kafka.bootstrap_servers, topic_prefix=prefix)
        )
        await exporter.start()
        try:
            await exporter.collect()
        finally:
            await exporter.stop()
    finally:
        await member.stop()
    assert metrics.TOPIC_MESSAGES.labels(topic)._value.get() == 7
    # partition 0 holds offsets 0-3 (4 records, 3 committed), partition 1 holds 0-2 (1 committed)
    assert metrics.CONSUMER_LAG.labels(topic, group)._value.get() == 1 + 2


async def _assigned(member: AIOKafkaConsumer) -> bool:
    await member.getmany(timeout_ms=50, max_records=1)
    return len(member.assignment()) == 2
