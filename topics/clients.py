"""The one place Kafka clients are built, so every process connects the same way.

Callers pass what is theirs (group, offsets, timeouts); what every client of the
platform shares (the bootstrap servers, message size limits, the producer's delivery
guarantees) is set here.
"""

from __future__ import annotations

from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient

from topics.codec import COMPRESSION
from topics.names import MAX_MESSAGE_BYTES


def producer(bootstrap: str, **options: Any) -> AIOKafkaProducer:
    """Idempotent, acks=all, no linger, zstd batches, large messages allowed."""
    settings: dict[str, Any] = {
        "enable_idempotence": True,
        "acks": "all",
        "linger_ms": 0,
        "compression_type": COMPRESSION,
        "max_request_size": MAX_MESSAGE_BYTES,
        **options,
    }
    return AIOKafkaProducer(bootstrap_servers=bootstrap, **settings)


def consumer(bootstrap: str, *topics: str, **options: Any) -> AIOKafkaConsumer:
    """Manual commits and room for the largest message unless the caller says otherwise."""
    settings: dict[str, Any] = {
        "enable_auto_commit": False,
        "max_partition_fetch_bytes": MAX_MESSAGE_BYTES,
        **options,
    }
    return AIOKafkaConsumer(*topics, bootstrap_servers=bootstrap, **settings)


def admin(bootstrap: str, **options: Any) -> AIOKafkaAdminClient:
    return AIOKafkaAdminClient(bootstrap_servers=bootstrap, **options)
