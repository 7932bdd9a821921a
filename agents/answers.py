"""Which answers are already on the response topic, so a crash never causes a second one.

Writing an answer and storing the state that says "answered" are two writes; a crash
between them replays the event that finished the conversation, and an answer whose
acknowledgement was lost in a broker outage may have landed anyway. Both cases are
settled by looking at agent.responses itself: responses are keyed and partitioned like
the conversations, so the partition to read is known, and only the recent past matters.

- After a partition changes hands, the first answer due on it loads who was answered on
  that partition in the last LOOKBACK_S; for LOOKBACK_S an answer is skipped when its
  conversation was already answered after it started (the previous owner's work).
- Before re-sending an answer whose acknowledgement never came, the partition is read
  from just before the first try to see whether the very record is there.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.structs import ConsumerRecord

from topics import clients
from topics.codec import read_envelope
from topics.connection import Target
from topics.partitioning import partitioner

log = logging.getLogger(__name__)

LOOKBACK_S = 60.0
"""How far back a new owner looks for answers given by the previous one: well beyond the
commit interval, the span of events a crashed owner may have processed but not committed."""
READ_TIMEOUT_S = 10.0


class ResponseLog:
    """Reads the default response topic's recent past on demand (no consumer group)."""

    def __init__(self, bootstrap: Target, topic: str, partitions: int) -> None:
        self._bootstrap, self.topic, self._partitions = bootstrap, topic, partitions
        self._consumer: AIOKafkaConsumer | None = None
        self._lock = asyncio.Lock()
        self._answered: dict[int, dict[str, float]] = {}
        """partition -> conversation id -> latest answer's timestamp (unix seconds)."""
        self._loaded: dict[int, tuple[object, float]] = {}
        """partition -> (consumer generation it was loaded for, when it was loaded)."""

    def partition_of(self, key: bytes) -> int:
        everything = list(range(self._partitions))
        return int(partitioner(key, everything, everything))

    async def already_answered(
        self, conversation_id: str, key: bytes, since: float, generation: object
    ) -> bool:
        """True when a previous owner of the partition answered this conversation at or
        after `since` (its start), within LOOKBACK_S of this instance taking it over."""
        partition = self.partition_of(key)
        loaded = self._loaded.get(partition)
        if loaded is not None and loaded[0] == generation:
            if time.monotonic() - loaded[1] > LOOKBACK_S:
                self._answered.pop(partition, None)
                return False
        else:
            await self._load(partition, generation)
        answered_at = self._answered.get(partition, {}).get(conversation_id)
        return answered_at is not None and answered_at >= since

    async def landed(self, key: bytes, value: bytes, since: float) -> bool:
        """True when this exact record was written to its partition at or after `since`."""
        return await self._scan(
            self.partition_of(key), since, lambda r: r.key == key and r.value == value
        )

    async def _load(self, partition: int, generation: object) -> None:
        answered: dict[str, float] = {}

        def note(record: ConsumerRecord) -> bool:
            conversation_id, _ = read_envelope(record.value)
            if conversation_id is not None:
                answered[conversation_id] = record.timestamp / 1000
            return False

        await self._scan(partition, time.time() - LOOKBACK_S, note)
        self._answered[partition] = answered
        self._loaded[partition] = (generation, time.monotonic())
        log.info(
            "Partition %d of %s: %d answers in the last %.0fs before taking it over.",
            partition,
            self.topic,
            len(answered),
            LOOKBACK_S,
        )

    async def _scan(
        self, partition: int, since: float, match: Callable[[ConsumerRecord], bool]
    ) -> bool:
        """Read `partition` from `since` to its end; True as soon as `match` says so."""
        async with self._lock:
            return await asyncio.wait_for(self._read(partition, since, match), READ_TIMEOUT_S)

    async def _read(
        self, partition: int, since: float, match: Callable[[ConsumerRecord], bool]
    ) -> bool:
        consumer = await self._open()
        tp = TopicPartition(self.topic, partition)
        consumer.assign([tp])
        found = await consumer.offsets_for_times({tp: int(since * 1000)})
        end = (await consumer.end_offsets([tp]))[tp]
        start = found[tp].offset if found.get(tp) is not None else end
        if start >= end:
            return False
        consumer.seek(tp, start)
        while await consumer.position(tp) < end:
            batch = await consumer.getmany(tp, timeout_ms=500)
            for record in batch.get(tp, []):
                if record.offset < end and match(record):
                    return True
        return False

    async def _open(self) -> AIOKafkaConsumer:
        if self._consumer is None:
            consumer = clients.consumer(self._bootstrap, group_id=None, fetch_max_wait_ms=50)
            await consumer.start()
            self._consumer = consumer
        return self._consumer

    async def close(self) -> None:
        if self._consumer is not None:
            await clients.stop_consumer(self._consumer)
