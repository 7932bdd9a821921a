"""Which conversations on this instance have a deadline coming up (for the timer)."""

from __future__ import annotations

RETICK_AFTER_S = 5.0
"""A deadline still due this long after its tick is ticked again (the tick may be lost)."""


class DeadlineIndex:
    """conversation id -> next deadline, and whether it is still in flight.

    Maintained by every state write, rebuilt from the table after rebalances.
    """

    def __init__(self) -> None:
        self._next: dict[str, float] = {}
        self._running: set[str] = set()
        self._ticked: dict[str, tuple[float, float]] = {}

    def set(self, conversation_id: str, deadline: float | None, in_flight: bool = True) -> None:
        if deadline is None:
            self._next.pop(conversation_id, None)
            self._ticked.pop(conversation_id, None)
            self._running.discard(conversation_id)
            return
        self._next[conversation_id] = deadline
        if in_flight:
            self._running.add(conversation_id)
        else:
            self._running.discard(conversation_id)

    def due(self, now: float) -> list[str]:
        """Conversations whose deadline passed and that were not ticked for it lately."""
        out = []
        for cid, deadline in self._next.items():
            if deadline > now:
                continue
            ticked = self._ticked.get(cid)
            if ticked is None or ticked[0] != deadline or now - ticked[1] >= RETICK_AFTER_S:
                self._ticked[cid] = (deadline, now)
                out.append(cid)
        return out

    def replace(self, deadlines: dict[str, tuple[float, bool]]) -> None:
        """Start over from (deadline, in flight) per conversation, keeping recent ticks."""
        self._next = {cid: deadline for cid, (deadline, _) in deadlines.items()}
        self._running = {cid for cid, (_, running) in deadlines.items() if running}
        self._ticked = {k: v for k, v in self._ticked.items() if self._next.get(k) == v[0]}

    @property
    def in_flight(self) -> int:
        return len(self._running)

    def __len__(self) -> int:
        return len(self._next)
