"""The fan-out turn's Kafka floor (`bench.baselines.raw_kafka.raw_fanout`) on the real broker:
every turn waits for all of its sleeping requests, and the echo answers them in parallel."""

from __future__ import annotations

import uuid
from pathlib import Path

from bench.baselines.raw_kafka import raw_fanout
from tests.conftest import KafkaUnderTest


async def test_a_turn_takes_one_sleep_however_many_requests_sleep(
    kafka: KafkaUnderTest, tmp_path: Path
) -> None:
    sleep_s, k = 0.3, 4
    walls = await raw_fanout(
        kafka.bootstrap_servers, k, sleep_s, 2, f"t{uuid.uuid4().hex[:6]}.", log_dir=tmp_path
    )
    assert len(walls) == 2
    for wall in walls:
        assert sleep_s <= wall < k * sleep_s  # every answer awaited, the sleeps side by side
