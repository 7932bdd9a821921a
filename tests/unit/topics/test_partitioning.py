"""KeyPartitioner: Kafka's default placement of keyed records, each key hashed once."""

from __future__ import annotations

from aiokafka.partitioner import DefaultPartitioner
from hypothesis import given
from hypothesis import strategies as st

from agents.faust_app import build_app
from config.settings import Settings
from topics import clients
from topics.partitioning import KeyPartitioner, partitioner

DEFAULT = DefaultPartitioner()


@given(
    keys=st.lists(st.binary(max_size=64), min_size=1, max_size=30),
    partitions=st.integers(min_value=1, max_value=64),
)
def test_keyed_records_land_where_kafkas_default_partitioner_puts_them(
    keys: list[bytes], partitions: int
) -> None:
    cached = KeyPartitioner(max_keys=8)  # small: the memory starts afresh during the test
    every = list(range(partitions))
    for key in keys + keys:  # each key twice: once hashed, once remembered
        assert cached(key, every, every) == DEFAULT(key, every, every)


def test_the_memory_of_hashes_is_bounded() -> None:
    cached = KeyPartitioner(max_keys=100)
    for i in range(1_000):
        cached(b"conversation-%d" % i, [0, 1, 2, 3], [0, 1, 2, 3])
    assert 0 < len(cached._hashes) <= 100


def test_an_unkeyed_record_goes_to_an_available_partition() -> None:
    assert {KeyPartitioner()(None, [0, 1, 2, 3], [2]) for _ in range(20)} == {2}


async def test_every_producer_of_the_platform_uses_it() -> None:
    producer = clients.producer("127.0.0.1:9")  # never started: nothing connects
    assert producer._partitioner is partitioner
    app = build_app(Settings(kafka_bootstrap_servers="127.0.0.1:9"))
    assert app.conf.producer_partitioner is partitioner
