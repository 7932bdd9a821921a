"""Decoded conversation states kept between events, so an event does not re-parse its state.

The table holds each conversation's state as the bytes its changelog carries; parsing
and validating them again on every event cost a quarter of the orchestrator's CPU. An
entry here is used only while the table still holds the very bytes object it was made
from (an identity check), so recovery from the changelog, a rebalance or any write this
cache did not see simply misses and parses. Only conversations in flight are kept:
finished ones are rarely touched again and are cheap to parse.
"""

from __future__ import annotations

from collections.abc import Container

from agents.state import ConversationState, Stored, load_stored


class StateCache:
    """conversation key -> (the stored bytes, the state decoded from them)."""

    def __init__(self) -> None:
        self._entries: dict[bytes, tuple[bytes, ConversationState]] = {}

    def load(self, key: bytes, raw: bytes | None) -> Stored | None:
        """The state the table holds for `key` (None when it holds nothing)."""
        if not raw:
            return None
        hit = self._entries.get(key)
        if hit is not None and hit[0] is raw:
            return hit[1]
        return load_stored(raw)

    def stored(self, key: bytes, raw: bytes, state: Stored) -> None:
        """The table now holds `raw` for `key`, decoded as `state`."""
        if isinstance(state, ConversationState):
            self._entries[key] = (raw, state)
        else:
            self._entries.pop(key, None)

    def forget(self, key: bytes) -> None:
        self._entries.pop(key, None)

    def keep_only(self, keys: Container[bytes]) -> None:
        """Drop entries of conversations this instance no longer holds (after a rebalance)."""
        for key in [k for k in self._entries if k not in keys]:
            del self._entries[key]

    def __len__(self) -> int:
        return len(self._entries)
