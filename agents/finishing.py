"""Conversations whose final answer is on its way to the broker.

An answer must be acknowledged before the state saying "answered" is held, so the rest of
a finishing transition waits for that acknowledgement. Only that conversation waits: the
agent goes on with other conversations' events meanwhile, and an event of the same
conversation waits for the finish first (`wait`). A commit of input offsets waits for
every finish (`settle`), so an offset is never committed ahead of its answer.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field

log = logging.getLogger(__name__)


@dataclass
class _Finish:
    partition: int
    dropped: bool = False
    task: asyncio.Task[None] = field(init=False)


class Finishing:
    """At most `limit` finishes at a time; `start` waits for room beyond that."""

    def __init__(self, limit: int) -> None:
        self._running: dict[bytes, _Finish] = {}
        self._room = asyncio.Semaphore(limit)

    def __len__(self) -> int:
        return len(self._running)

    async def start(
        self,
        key: bytes,
        partition: int,
        answer: Callable[[], Awaitable[bool]],
        then: Callable[[], Awaitable[None]],
    ) -> None:
        """Run `answer` (True once delivered) and, if it was delivered and the partition
        is still this instance's, `then`. One finish per key: the caller `wait`s first."""
        if key in self._running:
            raise RuntimeError("a conversation is finishing already; wait for it first")
        await self._room.acquire()
        finish = _Finish(partition)

        async def run() -> None:
            try:
                if await answer() and not finish.dropped:
                    await then()
            except Exception:
                log.exception("Finishing a conversation failed.")

        def done(_task: asyncio.Task[None]) -> None:  # also when cancelled before it ran
            self._room.release()
            if self._running.get(key) is finish:
                del self._running[key]

        finish.task = asyncio.ensure_future(run())
        finish.task.add_done_callback(done)
        self._running[key] = finish

    async def wait(self, key: bytes) -> None:
        """Return once the conversation under `key` is not finishing (no bound needed: the
        answer's delivery is bounded by the sender)."""
        finish = self._running.get(key)
        if finish is not None:
            await asyncio.wait({finish.task})

    async def settle(
        self, timeout_s: float | None, partitions: Iterable[int] | None = None
    ) -> bool:
        """Wait for the finishes running now (of `partitions`, or all), at most `timeout_s`
        (None: as long as their deliveries are bounded); True when none of them is left."""
        wanted = None if partitions is None else set(partitions)
        tasks = {f.task for f in self._running.values() if wanted is None or f.partition in wanted}
        if not tasks:
            return True
        await asyncio.wait(tasks, timeout=timeout_s)
        return all(task.done() for task in tasks)

    def drop(self, partitions: Iterable[int]) -> int:
        """Finishes of these partitions deliver their answer but hold nothing afterwards
        (the partitions belong to another instance now); how many there were."""
        revoked = set(partitions)
        dropped = [f for f in self._running.values() if f.partition in revoked]
        for finish in dropped:
            finish.dropped = True
        return len(dropped)
