"""States held until the commit: the newest per conversation, read back before stored."""

from __future__ import annotations

import asyncio

from agents.state_writes import HeldWrites, Write


def test_the_newest_state_per_conversation_is_held_and_read_back_before_the_table() -> None:
    writes = HeldWrites()
    table = {b"a": b"stored-a", b"b": b"stored-b"}
    writes.put(b"a", 1, b"a-1")
    writes.put(b"a", 1, b"a-2")
    writes.put(b"c", 3, b"c-1")
    assert writes.read(b"a", table) == b"a-2"
    assert writes.read(b"b", table) == b"stored-b"  # nothing held: the table's
    assert writes.read(b"c", table) == b"c-1"
    assert writes.read(b"d", table) is None
    assert len(writes) == 2
    assert writes.drain() == [Write(b"a", 1, b"a-2"), Write(b"c", 3, b"c-1")]
    assert len(writes) == 0 and writes.drain() == []
    assert writes.read(b"a", table) == b"a-2"  # drained, on its way to the table


def test_a_deletion_is_written_only_for_what_was_stored() -> None:
    writes = HeldWrites()
    writes.put(b"new", 0, b"n-1")
    writes.delete(b"new", 0, stored=False)  # began and ended between two commits
    writes.delete(b"old", 2, stored=True)
    assert writes.read(b"new", {}) is None
    assert writes.read(b"old", {b"old": b"stored"}) is None  # deleted, though still stored
    assert writes.drain() == [Write(b"old", 2, None)]


def test_revoked_partitions_lose_what_is_held_for_them() -> None:
    writes = HeldWrites()
    for key, partition in ((b"a", 0), (b"b", 1), (b"c", 2), (b"d", 1)):
        writes.put(key, partition, key)
    assert writes.drop({1, 3}) == 2
    assert [w.key for w in writes.drain()] == [b"a", b"c"]


def test_a_write_held_again_does_not_replace_a_newer_one() -> None:
    writes = HeldWrites()
    writes.put(b"a", 0, b"a-2")
    writes.hold(Write(b"a", 0, b"a-1"))
    writes.hold(Write(b"b", 0, b"b-1"))
    assert writes.drain() == [Write(b"a", 0, b"a-2"), Write(b"b", 0, b"b-1")]


async def test_a_commit_may_go_ahead_only_once_every_sent_write_is_acknowledged() -> None:
    loop = asyncio.get_running_loop()
    writes = HeldWrites()
    a1, b1 = Write(b"a", 0, b"a-1"), Write(b"b", 1, b"b-1")
    ack_a, ack_b = loop.create_future(), loop.create_future()
    writes.sent(a1, ack_a)
    writes.sent(b1, ack_b)
    assert writes.unacknowledged() == [ack_a, ack_b]
    assert not writes.settle()  # neither is in yet
    ack_a.set_result(None)
    assert not writes.settle()
    assert writes.unacknowledged() == [ack_b]
    ack_b.set_exception(TimeoutError())
    assert not writes.settle()  # b failed: held again, to be written before the commit
    assert writes.drain() == [b1]
    assert writes.settle() and writes.unacknowledged() == []


async def test_a_failed_write_does_not_come_back_over_a_newer_state() -> None:
    loop = asyncio.get_running_loop()
    writes = HeldWrites()
    ack = loop.create_future()
    writes.sent(Write(b"a", 0, b"a-1"), ack)
    writes.put(b"a", 0, b"a-2")
    ack.set_exception(TimeoutError())
    assert not writes.settle()
    assert writes.drain() == [Write(b"a", 0, b"a-2")]


async def test_writes_awaited_for_revoked_partitions_are_forgotten() -> None:
    loop = asyncio.get_running_loop()
    writes = HeldWrites()
    ack = loop.create_future()
    writes.sent(Write(b"a", 1, b"a-1"), ack)
    assert writes.drop({1}) == 0  # nothing held, one awaited
    ack.set_exception(TimeoutError())
    assert writes.settle() and writes.drain() == []


def test_a_drained_write_is_what_is_read_until_it_is_in_the_table() -> None:
    """Writes are stored one by one, each waiting on the producer; an event applied
    meanwhile reads its conversation's newest state, not the table's older one."""
    writes, table = HeldWrites(), {b"a": b"a1", b"b": b"b1"}
    writes.put(b"a", 0, b"a2")
    writes.put(b"b", 1, b"b2")
    first, second = writes.drain()
    table[first.key] = first.value  # the first is stored; the second waits its turn
    writes.stored(first)
    assert writes.read(b"a", table) == b"a2"
    assert writes.read(b"b", table) == b"b2"
    writes.put(b"b", 1, b"b3")  # a newer state held meanwhile wins
    assert writes.read(b"b", table) == b"b3"
    table[second.key] = second.value
    writes.stored(second)
    assert writes.read(b"b", table) == b"b3"
    assert [w.value for w in writes.drain()] == [b"b3"]


def test_a_drained_write_that_could_not_be_made_is_held_and_read_again() -> None:
    writes, table = HeldWrites(), {b"a": b"a1"}
    writes.put(b"a", 0, b"a2")
    (write,) = writes.drain()
    writes.hold(write)
    assert writes.read(b"a", table) == b"a2"
    assert writes.drain() == [write]


def test_a_deletion_is_written_for_a_state_on_its_way_to_the_table() -> None:
    writes = HeldWrites()
    writes.put(b"a", 0, b"a1")
    writes.drain()
    writes.delete(b"a", 0, stored=False)
    assert writes.drain() == [Write(b"a", 0, None)]


def test_a_revoked_partition_forgets_its_states_on_their_way_to_the_table() -> None:
    writes, table = HeldWrites(), {b"a": b"a1"}
    writes.put(b"a", 0, b"a2")
    writes.put(b"b", 1, b"b2")
    writes.drain()
    assert writes.drop({0}) == 0  # nothing held, one on its way
    assert writes.read(b"a", table) == b"a1"
    assert writes.read(b"b", table) == b"b2"
