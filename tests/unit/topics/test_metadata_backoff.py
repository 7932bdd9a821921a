"""Failed metadata updates back off (doubling, at most 1 s) instead of spinning: checked
on a real aiokafka client pointed at a port nobody listens on."""

from __future__ import annotations

import socket
import time

import pytest
from aiokafka.client import AIOKafkaClient

from topics import clients, metadata_backoff  # noqa: F401  (clients installs the back-off)
from topics.metadata_backoff import MAX_BACKOFF_S, delay_s


def test_the_delay_doubles_from_the_client_backoff_up_to_the_cap() -> None:
    assert [delay_s(n, 0.1) for n in range(1, 7)] == pytest.approx(
        [0.1, 0.2, 0.4, 0.8, MAX_BACKOFF_S, MAX_BACKOFF_S]
    )


def test_installing_twice_wraps_once() -> None:
    wrapped = AIOKafkaClient._metadata_update
    metadata_backoff.install()
    assert AIOKafkaClient._metadata_update is wrapped
    assert getattr(wrapped, "backs_off", False)


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


async def test_a_failed_update_waits_longer_each_time_before_it_reports_failure() -> None:
    client = AIOKafkaClient(bootstrap_servers=f"127.0.0.1:{closed_port()}", retry_backoff_ms=50)
    took = []
    try:
        for _ in range(4):
            began = time.monotonic()
            assert await client._metadata_update(client.cluster, []) is False
            took.append(time.monotonic() - began)
    finally:
        await client.close()
    for spent, wanted in zip(took, [0.05, 0.1, 0.2, 0.4], strict=True):
        assert spent >= wanted * 0.95
