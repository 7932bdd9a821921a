"""Conversation states held in memory until faust commits, then stored once per conversation.

Storing every event's state in the table cost one changelog record each: six per
conversation of two turns and three tools, a third of the 19 records the orchestrator
produced for it. What crash safety needs is weaker: every state that covers an input offset
faust commits must be in the changelog before that commit. So states are held here, the
newest per conversation, and stored just before each commit (`faust_fixes.before_commit`)
and by the orchestrator's rescan. The commit goes ahead only once every stored state is
acknowledged by the broker: faust's flush before a commit is best-effort (it stops
waiting after 0.1 s without progress), so the acknowledgements are tracked here; a
write that failed is held again, and until all are in, the commit is postponed. So
whatever is held or unacknowledged at any moment belongs to events whose offsets are not
committed: a crash loses only those, and they are read again and applied to the last
stored state, as after any crash (docs/crash-safety.md); for the same reason, what is
held for partitions a rebalance takes away is dropped, not written late.

Pure: which writes are due, not how they are made (`Orchestrator._store_held_states`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Container, Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Write:
    """Store `value` under `key` in changelog partition `partition`; None deletes it."""

    key: bytes
    partition: int
    value: bytes | None


class HeldWrites:
    """key -> the newest state not stored yet (or its deletion), with its partition; and
    key -> the newest write sent but not yet acknowledged, with its acknowledgement."""

    def __init__(self) -> None:
        self._held: dict[bytes, Write] = {}
        self._storing: dict[bytes, Write] = {}
        """Drained, not in the table yet: still what `read` answers."""
        self._sent: dict[bytes, tuple[Write, asyncio.Future[object]]] = {}

    def put(self, key: bytes, partition: int, value: bytes) -> None:
        self._held[key] = Write(key, partition, value)

    def hold(self, write: Write) -> None:
        """Hold `write` again (it could not be made), unless a newer one is held."""
        self._held.setdefault(write.key, write)
        self.stored(write)

    def stored(self, write: Write) -> None:
        """A drained `write` is in the table (or held again): `read` finds it there now."""
        if self._storing.get(write.key) is write:
            del self._storing[write.key]

    def delete(self, key: bytes, partition: int, stored: bool) -> None:
        """Forget `key`; a deletion is written only when the table `stored` it before, or a
        write of it is on its way there (a conversation that began and ended between two
        commits leaves no record at all)."""
        if stored or key in self._storing:
            self._held[key] = Write(key, partition, None)
        else:
            self._held.pop(key, None)

    def drop(self, partitions: Container[int]) -> int:
        """Forget what is held, on its way to the table or awaited for `partitions` (revoked:
        their uncommitted events go to the next owner, which applies them to the stored
        states); how many were held."""
        gone = [key for key, write in self._held.items() if write.partition in partitions]
        for key in gone:
            del self._held[key]
        # Were the partition assigned here again, its states come from the table's recovery.
        for key in [k for k, write in self._storing.items() if write.partition in partitions]:
            del self._storing[key]
        # Awaited ones are forgotten too: a failure must not hold them again for a
        # partition that is gone.
        for key in [k for k, (write, _) in self._sent.items() if write.partition in partitions]:
            _, ack = self._sent.pop(key)
            ack.add_done_callback(_ignore_outcome)
        return len(gone)

    def sent(self, write: Write, ack: asyncio.Future[object]) -> None:
        """`write` was handed to the producer; `ack` resolves when the broker has it."""
        self._sent[write.key] = (write, ack)

    def unacknowledged(self) -> list[asyncio.Future[object]]:
        return [ack for _, ack in self._sent.values() if not ack.done()]

    def settle(self) -> bool:
        """Forget acknowledged writes and hold failed ones again (unless newer ones are
        held); True when every sent write is acknowledged, so offsets may be committed."""
        settled = True
        for key, (write, ack) in list(self._sent.items()):
            if not ack.done():
                settled = False
                continue
            del self._sent[key]
            if ack.cancelled() or ack.exception() is not None:
                self.hold(write)
                settled = False
        return settled

    def read(self, key: bytes, table: Mapping[bytes, bytes | None]) -> bytes | None:
        """The state of `key` as it will be stored: held, else drained and on its way to the
        table, else what the table holds."""
        held = self._held.get(key) or self._storing.get(key)
        return table.get(key) if held is None else held.value

    def drain(self) -> list[Write]:
        """Every held write, oldest key first; nothing is held afterwards.

        Until each is `stored` in the table (or held again), `read` still answers with it:
        the writes are stored one after another, each waiting on the producer, and an event
        applied meanwhile must see its conversation's newest state. Read from the table
        instead, it saw the state before the last commit: the state producer's start at
        the first commit took long enough for a model result to be applied to a state that
        did not expect it yet, and that conversation waited for its deadline."""
        writes, self._held = list(self._held.values()), {}
        self._storing.update((write.key, write) for write in writes)
        return writes

    def __len__(self) -> int:
        return len(self._held)


def _ignore_outcome(ack: asyncio.Future[object]) -> None:
    """Mark a dropped write's outcome as seen (asyncio would log it as never retrieved)."""
    if not ack.cancelled():
        ack.exception()
