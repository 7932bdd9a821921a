"""Decoded states of recently active conversations, so an event does not re-parse its state.

The table holds each conversation's state as the bytes its changelog carries; parsing
and validating them on every event cost a quarter of the orchestrator's CPU. An entry is
used only while the table still holds the very bytes object it was made from (an
identity check), so recovery from the changelog, a rebalance or a write this cache did
not see simply misses and parses.

A decoded state takes several times the memory of its bytes (about 5.5 KB against
1-2 KB), so only conversations active in the last IDLE_S seconds are kept, and at most
MAX_ENTRIES of them: those are the ones whose next event comes soon (a turn of fast
tools), while a conversation waiting on a slow tool or the model costs one parse when it
wakes. Memory follows the rate of events, not the number of conversations in flight.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Container

from agents.state import ConversationState, StoredState, load_stored

IDLE_S = 2.0
MAX_ENTRIES = 512
"""Bounds the burst, not the steady state: 1,000 requests arriving at once all had an
event within IDLE_S, so a bound of 10,000 held all of them decoded, and the process kept
the high-water mark (freed small objects stay in Python's arenas) at 4.6-5.5 KB of RSS per
conversation in flight, against 2.5 with a bound of 256. 512 is 2.5 times the in-flight
conversations one orchestrator sustains in the throughput benchmark."""


class StateCache:
    """conversation key -> (the stored bytes, the state decoded from them, last use)."""

    def __init__(
        self,
        idle_s: float = IDLE_S,
        max_entries: int = MAX_ENTRIES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._entries: OrderedDict[bytes, tuple[bytes, ConversationState, float]] = OrderedDict()
        self._idle_s, self._max, self._clock = idle_s, max_entries, clock

    def load(self, key: bytes, raw: bytes | None) -> StoredState | None:
        """The state the table holds for `key` (None when it holds nothing)."""
        if not raw:
            return None
        hit = self._entries.get(key)
        if hit is not None and hit[0] is raw:
            return hit[1]
        return load_stored(raw)

    def stored(self, key: bytes, raw: bytes, state: StoredState) -> None:
        """The table now holds `raw` for `key`, decoded as `state`."""
        if not isinstance(state, ConversationState):
            self._entries.pop(key, None)
            return
        now = self._clock()
        self._entries[key] = (raw, state, now)
        self._entries.move_to_end(key)
        self._evict(now)

    def evict_idle(self) -> None:
        """Drop what went idle even when no event comes to trigger it (a pause of the whole
        stream would otherwise keep every decoded state until the next event)."""
        self._evict(self._clock())

    def forget(self, key: bytes) -> None:
        self._entries.pop(key, None)

    def keep_only(self, keys: Container[bytes]) -> None:
        """Drop entries of conversations this instance no longer holds (after a rebalance)."""
        for key in [k for k in self._entries if k not in keys]:
            del self._entries[key]

    def _evict(self, now: float) -> None:
        """Oldest first: entries idle longer than IDLE_S, and any beyond MAX_ENTRIES."""
        while self._entries:
            key, (_, _, used) = next(iter(self._entries.items()))
            if len(self._entries) <= self._max and now - used < self._idle_s:
                return
            del self._entries[key]

    def __len__(self) -> int:
        return len(self._entries)
