"""Metadata requests to a running broker: is it ready, who leads a partition, what is in sync."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from agentstream.broker.errors import BrokerError
from agentstream.broker.ports import port_open
from agentstream.processes import is_alive
from topics import clients
from topics.connection import Target

STARTUP_TIMEOUT_S = 90.0


@dataclass(frozen=True)
class PartitionState:
    """Who leads a partition and which replicas are in sync, as metadata reports it."""

    leader: int
    replicas: list[int]
    isr: list[int]


async def _answers_metadata(bootstrap: Target) -> bool:
    """True once the broker lists at least one broker in a metadata answer."""
    if not port_open(str(bootstrap)):
        return False
    admin = clients.admin(bootstrap, request_timeout_ms=3000)
    try:
        await admin.start()
        cluster = await admin.describe_cluster()
        return bool(cluster.get("brokers"))
    except Exception:
        return False
    finally:
        await admin.close()


def wait_until_ready(bootstrap: Target, pid: int, timeout_s: float = STARTUP_TIMEOUT_S) -> None:
    """Block until the broker answers a metadata request, or raise if it died or timed out."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not is_alive(pid):
            raise BrokerError(f"broker process {pid} exited during start-up")
        if asyncio.run(_answers_metadata(bootstrap)):
            return
        time.sleep(0.2)
    raise BrokerError(f"broker at {bootstrap} did not answer metadata within {timeout_s:.0f}s")


async def partition_state(bootstrap: str, topic: str, partition: int) -> PartitionState:
    """Leader, replicas and ISR of one partition, from a metadata request."""
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=5000)
    await admin.start()
    try:
        topics = await admin.describe_topics([topic])
    finally:
        await admin.close()
    found = [
        part
        for meta in topics
        if meta["topic"] == topic
        for part in meta["partitions"]
        if part["partition"] == partition
    ]
    if not found:
        raise BrokerError(f"metadata has no partition {topic}-{partition}")
    return PartitionState(found[0]["leader"], list(found[0]["replicas"]), list(found[0]["isr"]))


async def partition_leader(bootstrap: str, topic: str, partition: int) -> int:
    """The node id leading `topic`-`partition`; -1 while it has no leader."""
    return (await partition_state(bootstrap, topic, partition)).leader
