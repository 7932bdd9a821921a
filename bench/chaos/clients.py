"""Plain aiokafka clients, configured as any upstream team would, to submit, read and inspect."""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Awaitable, Callable

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError

from bench.chaos.load import Load, Tracker, prompt_for, request_payload


def plain_producer(bootstrap: str) -> AIOKafkaProducer:
    """A plain producer, as an upstream team would configure one; rides out a broker restart."""
    return AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        acks="all",
        enable_idempotence=True,
        linger_ms=5,
        request_timeout_ms=90_000,
    )


async def open_reader(bootstrap: str, topic: str, partitions: int) -> AIOKafkaConsumer:
    """A group-less consumer on every partition of `topic`, from the beginning."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    tps = [TopicPartition(topic, p) for p in range(partitions)]
    consumer.assign(tps)
    await consumer.seek_to_beginning(*tps)
    return consumer


async def read_responses(consumer: AIOKafkaConsumer, tracker: Tracker) -> None:
    """Feed every response into the tracker until cancelled."""
    while True:
        batch = await consumer.getmany(timeout_ms=200)
        for records in batch.values():
            for record in records:
                tracker.answered(record)


async def submit_all(
    producer: AIOKafkaProducer, topic: str, tracker: Tracker, load: Load, run_id: str
) -> None:
    """Publish `load.conversations` requests at `load.rate`, keyed by conversation_id.

    A send blocks while the producer's buffer is full (broker down); the loop then catches
    up, so the submission keeps its total count even when it cannot keep its pace.
    """
    rng = random.Random(load.seed)
    began = time.monotonic()
    for i in range(load.conversations):
        await asyncio.sleep(max(0.0, began + i / load.rate - time.monotonic()))
        cid = f"chaos-{run_id}-{i:05d}"
        payload = request_payload(cid, prompt_for(i, rng), load.timeout_s)
        future = await producer.send(topic, payload, key=cid.encode())
        tracker.submitted(cid, load.timeout_s + load.margin_s)
        future.add_done_callback(lambda f, cid=cid: tracker.delivery(cid, f))


class Inspector:
    """One admin client and one group-less consumer, kept for the run, to read group state
    and end offsets (short-lived aiokafka consumers race their own shutdown)."""

    def __init__(self, bootstrap: str) -> None:
        self.admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=5000)
        self.consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)

    async def start(self) -> None:
        await self.admin.start()
        await self.consumer.start()

    async def stop(self) -> None:
        await self.consumer.stop()
        await self.admin.close()

    async def group_members(self, group: str) -> int:
        """Members of a consumer group once it is Stable (0 while it rebalances or is empty)."""
        [response] = await self.admin.describe_consumer_groups([group])
        described = response.to_object()["groups"][0]
        return len(described["members"]) if described["state"] == "Stable" else 0

    async def end_offsets(self, topics: list[str]) -> dict[TopicPartition, int]:
        await self.consumer.topics()  # refreshes metadata, so new topics have partitions
        tps = [
            TopicPartition(t, p)
            for t in topics
            for p in self.consumer.partitions_for_topic(t) or []
        ]
        return await self.consumer.end_offsets(tps) if tps else {}

    async def group_lag(self, group: str, topics: list[str]) -> int:
        """Records of `topics` the group has not committed yet (end offset minus committed)."""
        committed = await self.admin.list_consumer_group_offsets(group)
        done = {tp: meta.offset for tp, meta in committed.items() if meta.offset >= 0}
        ends = await self.end_offsets(topics)
        return sum(max(0, end - done.get(tp, 0)) for tp, end in ends.items())


async def wait_for(
    check: Callable[[], Awaitable[bool]], timeout_s: float, what: str, poll_s: float = 0.25
) -> None:
    """Re-check an async condition until it holds; TimeoutError naming `what` past the deadline."""
    deadline = time.monotonic() + timeout_s
    while True:
        with contextlib.suppress(KafkaError, OSError, TimeoutError):  # broker mid-restart
            if await check():
                return
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} not reached within {timeout_s:g}s")
        await asyncio.sleep(poll_s)
