"""Which offset a worker may commit when calls finish out of order."""

from __future__ import annotations

from dataclasses import dataclass, field

from aiokafka import TopicPartition


@dataclass
class _Partition:
    pending: set[int] = field(default_factory=set)
    next_offset: int | None = None
    committed: int | None = None


@dataclass
class ContiguousOffsets:
    """Tracks started and finished offsets per partition.

    A partition's commit point is its lowest unfinished offset (or one past the highest
    started offset when all are done), so a crash can redeliver finished calls but never
    skip an unfinished one.
    """

    _parts: dict[TopicPartition, _Partition] = field(default_factory=dict)

    def started(self, tp: TopicPartition, offset: int) -> None:
        part = self._parts.setdefault(tp, _Partition())
        part.pending.add(offset)
        part.next_offset = max(part.next_offset or 0, offset + 1)

    def finished(self, tp: TopicPartition, offset: int) -> None:
        part = self._parts.get(tp)
        if part is not None:
            part.pending.discard(offset)

    def committable(self, only: set[TopicPartition] | None = None) -> dict[TopicPartition, int]:
        """Offsets to commit now: only those that moved since the last `mark_committed`."""
        out: dict[TopicPartition, int] = {}
        for tp, part in self._parts.items():
            if (only is not None and tp not in only) or part.next_offset is None:
                continue
            point = min(part.pending) if part.pending else part.next_offset
            if point != part.committed:
                out[tp] = point
        return out

    def mark_committed(self, offsets: dict[TopicPartition, int]) -> None:
        for tp, offset in offsets.items():
            if tp in self._parts:
                self._parts[tp].committed = offset

    def forget(self, tps: set[TopicPartition]) -> None:
        """Drop partitions this worker no longer owns (after a rebalance)."""
        for tp in tps:
            self._parts.pop(tp, None)
