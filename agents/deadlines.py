"""Which conversations on this instance have a deadline coming up (for the timer)."""

from __future__ import annotations

import heapq
import logging
import time
from collections.abc import Iterable, Mapping

from agents.state import load_stored

log = logging.getLogger(__name__)

RETICK_AFTER_S = 5.0
"""A deadline still due this long after its tick is ticked again (the tick may be lost)."""
FULL_SYNC_INTERVAL_S = 60.0


class DeadlineIndex:
    """conversation id -> next deadline, and whether it is still in flight.

    Maintained by every state write, rebuilt from the table after rebalances. `due` pops a
    heap, so the timer's cost follows what is due, not how many conversations are held
    (finished ones stay until their retention ends). Heap entries of a deadline that was
    replaced are skipped when they surface, and the heap is rebuilt when they pile up.
    """

    def __init__(self) -> None:
        self._next: dict[str, float] = {}
        self._running: set[str] = set()
        self._heap: list[tuple[float, str, float]] = []
        """(when to tick, conversation id, the deadline that tick is for)"""
        self._full_sync_at = 0.0

    def set(self, conversation_id: str, deadline: float | None, in_flight: bool = True) -> None:
        if deadline is None:
            self._next.pop(conversation_id, None)
            self._running.discard(conversation_id)
            return
        if self._next.get(conversation_id) != deadline:
            self._next[conversation_id] = deadline
            self._push(deadline, conversation_id, deadline)
        if in_flight:
            self._running.add(conversation_id)
        else:
            self._running.discard(conversation_id)

    def due(self, now: float) -> list[str]:
        """Conversations whose deadline passed: once, then every RETICK_AFTER_S until it
        changes (a tick can be lost on its way through the broker)."""
        out = []
        while self._heap and self._heap[0][0] <= now:
            _, cid, deadline = heapq.heappop(self._heap)
            if self._next.get(cid) == deadline:
                out.append(cid)
                heapq.heappush(self._heap, (now + RETICK_AFTER_S, cid, deadline))
        return out

    def replace(self, deadlines: dict[str, tuple[float, bool]]) -> None:
        """Start over from (deadline, in flight) per conversation."""
        self._next = {cid: deadline for cid, (deadline, _) in deadlines.items()}
        self._running = {cid for cid, (_, running) in deadlines.items() if running}
        self._heap = [(deadline, cid, deadline) for cid, deadline in self._next.items()]
        heapq.heapify(self._heap)

    def sync(self, table: Mapping[bytes, bytes | None]) -> bool:
        """Rebuild from the table when the two disagree; True when it rebuilt.

        Every state write updates the index; what it cannot see is a rebalance
        (partitions recovered from the changelog, or revoked). Every table entry has
        exactly one deadline, so a differing count means a rebuild; a full rebuild also
        runs every FULL_SYNC_INTERVAL_S as a safety net.
        """
        now = time.monotonic()
        if len(table) == len(self) and now < self._full_sync_at:
            return False
        self._full_sync_at = now + FULL_SYNC_INTERVAL_S
        self.replace(deadlines_of(list(table.items())))
        return True

    def _push(self, when: float, conversation_id: str, deadline: float) -> None:
        heapq.heappush(self._heap, (when, conversation_id, deadline))
        if len(self._heap) > 4 * len(self._next) + 1024:
            self._heap = [(d, cid, d) for cid, d in self._next.items()]
            heapq.heapify(self._heap)

    @property
    def in_flight(self) -> int:
        return len(self._running)

    def __len__(self) -> int:
        return len(self._next)


def deadlines_of(entries: Iterable[tuple[bytes, bytes | None]]) -> dict[str, tuple[float, bool]]:
    """conversation id -> (next deadline, in flight) for every readable table entry."""
    deadlines: dict[str, tuple[float, bool]] = {}
    for key, raw in entries:
        if not raw:
            continue
        try:
            state = load_stored(raw)
        except ValueError:
            log.error("Conversation %r has an unreadable state; skipping it.", key[:200])
            continue
        deadline = state.next_deadline()
        if deadline is not None:
            deadlines[key.decode()] = (deadline, not state.finished)
    return deadlines
