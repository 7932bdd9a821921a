"""The decoded-state cache answers only for the table's very bytes, and forgets idle entries."""

from __future__ import annotations

from agents.state_cache import StateCache
from tests.support.conversations import started


def _stored() -> tuple[bytes, object]:
    state = started()
    return state.model_dump_json().encode(), state


def test_a_hit_needs_the_very_bytes_object_the_state_was_stored_with() -> None:
    cache = StateCache()
    raw, state = _stored()
    cache.stored(b"k", raw, state)  # type: ignore[arg-type]
    assert cache.load(b"k", raw) is state
    equal_but_other = bytes(bytearray(raw))  # what recovery from the changelog gives
    reloaded = cache.load(b"k", equal_but_other)
    assert reloaded is not state and reloaded == state


def test_nothing_stored_loads_as_none() -> None:
    assert StateCache().load(b"k", None) is None


def test_entries_idle_longer_than_the_limit_are_dropped_oldest_first() -> None:
    now = [0.0]
    cache = StateCache(idle_s=2.0, clock=lambda: now[0])
    raw_a, a = _stored()
    raw_b, b = _stored()
    cache.stored(b"a", raw_a, a)  # type: ignore[arg-type]
    now[0] = 1.5
    cache.stored(b"b", raw_b, b)  # type: ignore[arg-type]
    now[0] = 2.5
    cache.stored(b"b", raw_b, b)  # type: ignore[arg-type]  # b stays active
    assert len(cache) == 1 and cache.load(b"b", raw_b) is b
    assert cache.load(b"a", raw_a) is not a  # parsed again


def test_the_number_of_entries_is_bounded() -> None:
    cache = StateCache(max_entries=3)
    for i in range(5):
        raw, state = _stored()
        cache.stored(str(i).encode(), raw, state)  # type: ignore[arg-type]
    assert len(cache) == 3


def test_a_finished_conversation_is_not_kept() -> None:
    from agents.state import FinishedConversation

    cache = StateCache()
    raw, state = _stored()
    cache.stored(b"k", raw, state)  # type: ignore[arg-type]
    done = FinishedConversation(conversation_id="c", status="completed", forget_at=1.0)
    cache.stored(b"k", b"x", done)
    assert len(cache) == 0


def test_idle_entries_go_without_another_event() -> None:
    now = [0.0]
    cache = StateCache(idle_s=2.0, clock=lambda: now[0])
    for key in (b"a", b"b"):
        raw, state = _stored()
        cache.stored(key, raw, state)  # type: ignore[arg-type]
    now[0] = 1.0
    cache.evict_idle()
    assert len(cache) == 2
    now[0] = 2.5
    cache.evict_idle()
    assert len(cache) == 0


def test_a_burst_of_active_conversations_keeps_at_most_the_default_bound_decoded() -> None:
    """A burst of new conversations, all active within the idle limit, must not hold every
    state decoded: the high-water mark stays in the process's RSS after the burst."""
    from agents.state_cache import MAX_ENTRIES

    cache = StateCache(clock=lambda: 0.0)
    raw, state = _stored()
    for i in range(MAX_ENTRIES + 100):
        cache.stored(str(i).encode(), raw, state)  # type: ignore[arg-type]
    assert len(cache) == MAX_ENTRIES <= 1024
    assert cache.load(b"0", raw) is not state  # the oldest went first
    assert cache.load(str(MAX_ENTRIES + 99).encode(), raw) is state
