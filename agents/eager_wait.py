"""Awaiting without tasks for what finishes at once: mode's `wait_first`.

faust hands every fetched record to the streams through
`await self.wait_first(callback(message), self.suspend_flow.wait())` (faust/transport/
consumer.py:1220): mode wraps the callback, the flow event and the service's stopped and
crashed events in four tasks, waits for the first, and cancels the other three. The
callback (the conductor putting the record on the stream's queue) nearly always finishes
without suspending, so those tasks are the whole cost: 50-70 us per record on 2 cores,
against 0.1-0.2 us for awaiting the callback itself (mode-streaming 0.7.1's Service).

`EagerWaitFirst.wait_first` runs a coroutine given first up to its first suspension in
the caller's task. Finished there, the result is returned as mode would, and the other
awaitables are closed unstarted. Suspended (the queue is full, the flow is suspended for a
rebalance), the coroutine goes on as a task from where it stopped, and mode's own
`wait_first` waits for it and the rest: cancelling that task cancels the coroutine at its
await, as before. Anything else (events, futures) takes mode's path unchanged. The same
for `asyncio.timeout`: `config.eager.within`.
"""

from __future__ import annotations

import asyncio
import inspect
from typing import Any

from mode.services import WaitResults

from config.eager import Resumed


async def _finish(resumed: Resumed) -> Any:
    return await resumed


def _close(awaitables: tuple[Any, ...]) -> None:
    """Close coroutines that will never run (no 'never awaited' warning)."""
    for awaitable in awaitables:
        if inspect.iscoroutine(awaitable):
            awaitable.close()


class EagerWaitFirst:
    """Mixin for a mode `Service`: `wait_first` with the first coroutine run eagerly."""

    async def wait_first(self, *coros: Any, timeout: float | None = None) -> WaitResults:  # noqa: ASYNC109
        first = coros[0] if coros else None
        if not inspect.iscoroutine(first):
            return await super().wait_first(*coros, timeout=timeout)  # type: ignore[misc]
        try:
            pending = first.send(None)
        except StopIteration as done:
            _close(coros[1:])
            if self._stopped.is_set() or self._crashed.is_set():  # type: ignore[attr-defined]
                return WaitResults([], [], True)  # what mode answers when a stop came too
            return WaitResults([first], [done.value], False)
        except BaseException:
            _close(coros[1:])
            raise
        task = asyncio.ensure_future(_finish(Resumed(first, pending)))
        return await super().wait_first(task, *coros[1:], timeout=timeout)  # type: ignore[misc]
