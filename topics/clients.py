"""The one place Kafka clients are built, so every process connects the same way.

A `Connection` (`topics.connection`) says how to reach the cluster. Callers pass what
is theirs (group, offsets, timeouts); what every client of the platform shares (the
connection, message size limits, the producer's delivery guarantees) is set here. A
plain string is taken as the bootstrap servers of an unsecured cluster, so tools and
tests can pass one.
"""

from __future__ import annotations

import asyncio
import ssl
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient

from topics.codec import COMPRESSION
from topics.connection import Target, connection
from topics.names import MAX_MESSAGE_BYTES


def producer(target: Target, **options: Any) -> AIOKafkaProducer:
    """Idempotent, acks=all, no linger, zstd batches, large messages allowed."""
    settings: dict[str, Any] = {
        "enable_idempotence": True,
        "acks": "all",
        "linger_ms": 0,
        "compression_type": COMPRESSION,
        "max_request_size": MAX_MESSAGE_BYTES,
        **options,
    }
    return AIOKafkaProducer(**connection(target).options(), **settings)


def consumer(target: Target, *topics: str, **options: Any) -> AIOKafkaConsumer:
    """Manual commits and room for the largest message unless the caller says otherwise."""
    settings: dict[str, Any] = {
        "enable_auto_commit": False,
        "max_partition_fetch_bytes": MAX_MESSAGE_BYTES,
        **options,
    }
    return AIOKafkaConsumer(*topics, **connection(target).options(), **settings)


def admin(target: Target, **options: Any) -> AIOKafkaAdminClient:
    return AIOKafkaAdminClient(**connection(target).options(), **options)


async def refusal(target: Target, timeout_s: float = 10.0) -> str | None:
    """Why a secured broker refused this connection (TLS or SASL), None if it did not.

    aiokafka reports any failed bootstrap as "unable to bootstrap"; one direct connection
    to the first bootstrap server says whether it was the certificate or the password.
    """
    from aiokafka.conn import create_conn

    kafka = connection(target)
    if not (kafka.uses_sasl or kafka.uses_tls):
        return None
    host, _, port = kafka.bootstrap_servers.split(",")[0].rpartition(":")
    options = {k: v for k, v in kafka.options().items() if k != "bootstrap_servers"}
    try:
        conn = await asyncio.wait_for(create_conn(host, int(port), **options), timeout_s)
    except (TimeoutError, OSError):
        return None
    except Exception as exc:
        if isinstance(exc, ssl.SSLError) or "Sasl" in type(exc).__name__:
            return f"{type(exc).__name__}: {exc}".splitlines()[0][:300]
        return None
    conn.close()
    return None
