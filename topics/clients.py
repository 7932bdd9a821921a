"""The one place Kafka clients are built, so every process connects the same way.

A `Connection` (`topics.connection`) says how to reach the cluster. Callers pass what
is theirs (group, offsets, timeouts); what every client of the platform shares (the
connection, message size limits, the producer's delivery guarantees) is set here. A
plain string is taken as the bootstrap servers of an unsecured cluster, so tools and
tests can pass one.

Importing this module backs off aiokafka's failed metadata updates in the whole process
(`topics.metadata_backoff`) and lets consumers' replies go out before their next fetch
request is built (`topics.replies_first`): every process of the platform builds its
clients here, and faust's orchestrator imports it through `agents.faust_fixes`.
"""

from __future__ import annotations

import asyncio
import ssl
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient

from topics import metadata_backoff, replies_first
from topics.connection import Target, connection
from topics.names import MAX_MESSAGE_BYTES
from topics.partitioning import partitioner

metadata_backoff.install()
replies_first.install()


def producer(target: Target, **options: Any) -> AIOKafkaProducer:
    """Idempotent, acks=all, no linger, the connection's batch compression (none by
    default), large messages allowed; keys hashed once (`topics.partitioning`)."""
    how = connection(target)
    settings: dict[str, Any] = {
        "enable_idempotence": True,
        "acks": "all",
        "linger_ms": 0,
        "compression_type": how.compression_type,
        "max_request_size": MAX_MESSAGE_BYTES,
        "partitioner": partitioner,
        **options,
    }
    return AIOKafkaProducer(**how.options(), **settings)


def consumer(target: Target, *topics: str, **options: Any) -> AIOKafkaConsumer:
    """Manual commits and room for the largest message unless the caller says otherwise."""
    settings: dict[str, Any] = {
        "enable_auto_commit": False,
        "max_partition_fetch_bytes": MAX_MESSAGE_BYTES,
        **options,
    }
    return AIOKafkaConsumer(*topics, **connection(target).options(), **settings)


async def stop_consumer(consumer: AIOKafkaConsumer) -> None:
    """`consumer.stop()`, carried to the end even when aiokafka 0.14 cuts it short.

    aiokafka's stop cancels its own tasks and awaits them; a task cancelled before it ran,
    or while it waited out a retry back-off, lets its CancelledError out of `stop()`
    (aio-libs/aiokafka#647), before the rest is stopped and the connections closed. Both
    happen: a group-less consumer stopped soon after it started, and every consumer
    stopped while the broker is gone (its fetch then lives in its back-off). To the caller
    it looks like its own cancellation: faust's consumer service never reported itself
    stopped, and the orchestrator outlived SIGTERM by minutes. A cancellation of the
    caller itself still propagates.
    """
    task = asyncio.current_task()
    cancelled_before = task.cancelling() if task is not None else 0
    try:
        await consumer.stop()
        return
    except asyncio.CancelledError:
        # A stop in a cancelled task's cleanup counts too: only a new cancellation is ours.
        if task is not None and task.cancelling() > cancelled_before:
            raise
    # What the cut-short stop left: the fetcher's and the coordinator's tasks, callers
    # waiting on the fetcher, then the client's metadata task and connections.
    leftover = [
        running
        for part in (consumer._coordinator, consumer._fetcher)
        for running in _tasks_of(part)
        if not running.done()
    ]
    for running in leftover:
        running.cancel()
    await asyncio.gather(*leftover, return_exceptions=True)
    fetcher = consumer._fetcher
    if fetcher is not None:
        fetcher._closed = True
        for waiter in fetcher._fetch_waiters:
            if not waiter.done():
                waiter.set_result(None)
    await consumer._client.close()


def _tasks_of(part: object) -> list[asyncio.Task[Any]]:
    """The asyncio tasks an aiokafka component holds, alone or in a set or list."""
    found: list[asyncio.Task[Any]] = []
    for value in vars(part).values() if part is not None else ():
        if isinstance(value, asyncio.Task):
            found.append(value)
        elif isinstance(value, set | list):
            found += [item for item in value if isinstance(item, asyncio.Task)]
    return found


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
