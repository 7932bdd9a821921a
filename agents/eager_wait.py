"""Awaiting without tasks or timers for what finishes at once: mode's `wait_first`, and a
coroutine bounded by a timeout (`within`).

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
await, as before. Anything else (events, futures) takes mode's path unchanged.

`within(coro, timeout_s)` does the same for `asyncio.timeout`: a coroutine that finishes
without suspending needs no bound, and gets no timer. The orchestrator hands ~13 records
per conversation to faust's producer, which returns at once unless its buffer is full or
the topic's metadata is missing; the timer armed and cancelled around each of those was
5% of the orchestrator's CPU under load (py-spy, 4,000 conversations). Suspended, the
coroutine goes on under `asyncio.timeout(timeout_s)` from where it stopped.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Coroutine, Generator
from typing import Any, TypeVar

from mode.services import WaitResults

T = TypeVar("T")


class _Resumed:
    """A coroutine that already ran up to a suspension, awaitable from that point on:
    what it yielded goes to the awaiting task, what the task sends or throws goes back."""

    __slots__ = ("_coro", "_pending")

    def __init__(self, coro: Coroutine[Any, Any, Any], pending: Any) -> None:
        self._coro, self._pending = coro, pending

    def __await__(self) -> Generator[Any, Any, Any]:
        coro, pending = self._coro, self._pending
        while True:
            try:
                sent = yield pending
            except GeneratorExit:
                coro.close()
                raise
            except BaseException as exc:  # CancelledError included: into the coroutine
                try:
                    pending = coro.throw(exc)
                except StopIteration as stop:
                    return stop.value
            else:
                try:
                    pending = coro.send(sent)
                except StopIteration as stop:
                    return stop.value


async def _finish(resumed: _Resumed) -> Any:
    return await resumed


async def within(coro: Coroutine[Any, Any, T], timeout_s: float) -> T:
    """`await coro` bounded by `timeout_s` (TimeoutError past it), with no timer armed
    when it finishes without suspending."""
    try:
        pending = coro.send(None)
    except StopIteration as done:
        return done.value
    async with asyncio.timeout(timeout_s):
        return await _Resumed(coro, pending)


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
        task = asyncio.ensure_future(_finish(_Resumed(first, pending)))
        return await super().wait_first(task, *coros[1:], timeout=timeout)  # type: ignore[misc]
