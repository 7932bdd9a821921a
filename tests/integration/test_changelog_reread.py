"""A changelog record that faust drops while its flow is stopped is read again.

The interleaving behind a table recovery that waited for ever: a fetch that waits across a
rebalance, whose active partitions the rebalance empties (aiokafka then hands out records
of every partition), returns the changelog records read from the recovery's fresh
position while faust's flow is still stopped, and faust drops them. Forced here on a real
broker, with faust's and aiokafka's own consumer code: the fetch is waiting, the test does
what the start of a rebalance does, a changelog record arrives, and then what the end of a
table recovery does. The record must reach the table.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import faust
import pytest
from aiokafka import AIOKafkaProducer
from faust.types import TP

from agents.faust_app import faust_datadir
from agents.faust_fixes import install
from tests.conftest import KafkaUnderTest
from tests.support.kafka import create_topic
from tests.support.waiting import wait_until

pytestmark = pytest.mark.integration


@pytest.fixture
async def app(kafka: KafkaUnderTest, unique: str) -> AsyncIterator[faust.App]:
    await create_topic(kafka.bootstrap_servers, f"{unique}.events", 1)
    app = faust.App(
        f"{unique}-app",
        broker=f"kafka://{kafka.bootstrap_servers}",
        store="memory://",
        datadir=faust_datadir(f"{unique}-app"),
        web_enabled=False,
        topic_partitions=1,
        table_standby_replicas=0,
        key_serializer="raw",
        value_serializer="raw",
    )
    install(app)
    events = app.topic(f"{unique}.events", partitions=1)
    app.Table("values", partitions=1, key_type=bytes, value_type=bytes, recovery_buffer_size=1)

    @app.agent(events)
    async def ignore(stream: faust.StreamT) -> None:
        async for _ in stream:
            pass

    await app.start()
    try:
        await wait_until(
            lambda: app.tables.recovery.completed.is_set() and not app.rebalancing,
            60,
            "the app to finish its first recovery",
        )
        yield app
    finally:
        await app.stop()


async def test_a_changelog_record_dropped_while_the_flow_is_stopped_is_read_again(
    app: faust.App, kafka: KafkaUnderTest
) -> None:
    table = app.tables["values"]
    changelog = TP(table.changelog_topic.get_topic_name(), 0)
    consumer = app.consumer
    handed_out: list[int] = []
    wait_next_records = consumer._wait_next_records

    async def watched(timeout: float) -> Any:  # noqa: ASYNC109
        records, active = await wait_next_records(timeout)
        handed_out.extend(r.offset for r in (records or {}).get(changelog, ()))
        return records, active

    consumer._wait_next_records = watched  # observes faust's own fetch; changes nothing
    fetcher = consumer._thread._consumer._fetcher
    await wait_until(lambda: bool(fetcher._fetch_waiters), 30, "faust's fetch to wait")

    # The start of a rebalance (faust's on_partitions_revoked), while the fetch waits.
    consumer.stop_flow()
    app.flow_control.suspend()
    consumer.pause_partitions(consumer.assignment())

    producer = AIOKafkaProducer(bootstrap_servers=kafka.bootstrap_servers)
    await producer.start()
    try:
        await producer.send_and_wait(changelog.topic, b"restored", key=b"k", partition=0)
    finally:
        await producer.stop()
    await wait_until(lambda: handed_out == [0], 30, "aiokafka to hand out the record")
    await wait_until(
        lambda: bool(consumer.can_resume_flow._waiters), 30, "faust to drop it and wait for flow"
    )

    # The end of a table recovery's set-up (tables/recovery.py): resume its changelogs.
    consumer.resume_partitions({changelog})
    app.flow_control.resume()
    consumer.resume_flow()

    await wait_until(lambda: table.data.get(b"k") == b"restored", 30, "the record in the table")
