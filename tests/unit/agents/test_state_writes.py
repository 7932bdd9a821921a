"""States held until the commit: the newest per conversation, read back before stored."""

from __future__ import annotations

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
    assert writes.read(b"a", table) == b"stored-a"


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
