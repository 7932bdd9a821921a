"""Read whole topics from their beginning and keep following them (compacted state topics).

Every reader needs every record (each orchestrator every tool spec, each tool worker every
journal entry), so there is no consumer group. The source is one topic or a pattern of
topic names (new matching topics, such as a new tool's registry, are found within
`rescan_s`). `ready` is set once the reader has caught up with the end offsets of the
topics that existed when it started.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition

from topics import clients
from topics.connection import Target

RESCAN_S = 1.0
POLL_MS = 200


async def follow(
    bootstrap: Target,
    source: str | re.Pattern[str],
    apply: Callable[[ConsumerRecord], None],
    ready: asyncio.Event,
    every: Callable[[], None] | None = None,
    rescan_s: float = RESCAN_S,
) -> None:
    """Call `apply(record)` for every record, forever, and `every()` after each poll.

    aiokafka's own subscription assigns every partition of every matching topic (there is
    no group) and notices new topics on each metadata refresh. A new topic restarts the
    whole assignment from the beginning, so `apply` must be idempotent per key, as it is
    for compacted state.
    """
    consumer = clients.consumer(
        bootstrap,
        group_id=None,
        fetch_max_wait_ms=POLL_MS,
        auto_offset_reset="earliest",
        metadata_max_age_ms=int(rescan_s * 1000),
    )
    await consumer.start()
    try:
        if isinstance(source, str):
            consumer.subscribe(topics=[source])
            existing = {source}
        else:
            consumer.subscribe(pattern=source.pattern)
            existing = {name for name in await consumer.topics() if source.match(name)}
        end: dict[TopicPartition, int] | None = None
        while True:
            batch = await _poll(consumer)
            for records in batch.values():
                for record in records:
                    apply(record)
            if not ready.is_set():
                end = end if end is not None else await _end_offsets(consumer, existing)
                if end is not None and await _caught_up(consumer, end):
                    ready.set()
            if every is not None:
                every()
    finally:
        await clients.stop_consumer(consumer)


async def _poll(consumer: AIOKafkaConsumer) -> dict[TopicPartition, list[ConsumerRecord]]:
    """One fetch; with nothing assigned (no matching topic yet) aiokafka would wait for an
    assignment without a bound, so this sleeps a poll instead."""
    try:
        async with asyncio.timeout(5 * POLL_MS / 1000):
            if consumer.assignment():
                return await consumer.getmany(timeout_ms=POLL_MS)
            await asyncio.sleep(POLL_MS / 1000)
    except TimeoutError:
        pass
    return {}


async def _end_offsets(
    consumer: AIOKafkaConsumer, existing: set[str]
) -> dict[TopicPartition, int] | None:
    """End offsets of the topics that existed at start, once all of them are assigned."""
    tps = [tp for tp in consumer.assignment() if tp.topic in existing]
    if {tp.topic for tp in tps} != existing:
        return None
    return await consumer.end_offsets(tps) if tps else {}


async def _caught_up(consumer: AIOKafkaConsumer, end: dict[TopicPartition, int]) -> bool:
    for tp, offset in end.items():
        if await consumer.position(tp) < offset:
            return False
    return True
