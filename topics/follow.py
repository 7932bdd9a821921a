"""Read a whole topic from its beginning and keep following it (compacted state topics).

Every reader needs every record (each orchestrator every tool spec, each tool worker every
journal entry), so there is no consumer group; `ready` is set once the reader has caught
up with the end offsets it saw at start.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from aiokafka import AIOKafkaConsumer, TopicPartition

from topics import clients
from topics.connection import Target


async def follow(
    bootstrap: Target,
    topic: str,
    partitions: int,
    apply: Callable[[bytes | None, bytes | None], None],
    ready: asyncio.Event,
    every: Callable[[], None] | None = None,
    read_upto: dict[int, int] | None = None,
) -> None:
    """Call `apply(key, value)` for every record, forever; `every()` after each poll;
    `read_upto[partition]` is kept at the offset after the last record applied."""
    consumer = clients.consumer(bootstrap, fetch_max_wait_ms=200, group_id=None)
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in range(partitions)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        end = await consumer.end_offsets(tps)
        while True:
            batch = await consumer.getmany(timeout_ms=200)
            for records in batch.values():
                for record in records:
                    apply(record.key, record.value)
                    if read_upto is not None:
                        read_upto[record.partition] = record.offset + 1
            if not ready.is_set() and await _caught_up(consumer, end):
                ready.set()
            if every is not None:
                every()
    finally:
        await consumer.stop()


async def _caught_up(consumer: AIOKafkaConsumer, end: dict[TopicPartition, int]) -> bool:
    for tp, offset in end.items():
        if await consumer.position(tp) < offset:
            return False
    return True
