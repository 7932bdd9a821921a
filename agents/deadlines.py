"""Which conversations on this instance have a deadline coming up (for the timer)."""

from __future__ import annotations


class DeadlineIndex:
    """conversation id -> next deadline; rebuilt from the table after rebalances."""

    def __init__(self) -> None:
        self._next: dict[str, float] = {}
        self._ticked: dict[str, float] = {}

    def set(self, conversation_id: str, deadline: float | None) -> None:
        if deadline is None:
            self._next.pop(conversation_id, None)
            self._ticked.pop(conversation_id, None)
        else:
            self._next[conversation_id] = deadline

    def due(self, now: float) -> list[str]:
        """Conversations whose deadline passed and that were not ticked for it yet."""
        out = []
        for cid, deadline in self._next.items():
            if deadline <= now and self._ticked.get(cid) != deadline:
                self._ticked[cid] = deadline
                out.append(cid)
        return out

    def replace(self, deadlines: dict[str, float]) -> None:
        self._next = dict(deadlines)
        self._ticked = {k: v for k, v in self._ticked.items() if self._next.get(k) == v}

    def __len__(self) -> int:
        return len(self._next)
