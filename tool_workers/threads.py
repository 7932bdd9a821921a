"""Sync tools run on a bounded pool of threads, and overruns are counted, not hidden.

Python cannot stop a running thread: a sync tool that ignores its deadline keeps its
thread after its call was answered as timed out. The pool has exactly `size` threads (the
worker's concurrency), so such threads can never pile up beyond it; each one is counted
in `agentstream_tool_threads_overrunning` and takes a slot from the worker until it
returns, so the worker takes fewer calls instead of queueing them behind a stuck thread.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from monitoring import metrics


class ThreadSlots:
    """A fixed pool for sync tool functions that knows how many threads overran."""

    def __init__(self, size: int) -> None:
        self.size = max(1, size)
        self._pool = ThreadPoolExecutor(self.size, thread_name_prefix="tool")
        self.overrunning = 0

    async def run(self, tool: str, fn: Callable[..., Any], *args: Any, timeout_s: float) -> Any:
        """`fn(*args)` in a thread; TimeoutError after `timeout_s` (the thread runs on)."""
        submitted = self._pool.submit(functools.partial(fn, *args))
        running = asyncio.wrap_future(submitted)
        try:
            return await asyncio.wait_for(asyncio.shield(running), timeout_s)
        except TimeoutError:
            # Still queued: it never runs. Started: its thread runs on, and is counted.
            if not submitted.cancel() and not submitted.done():
                self._overran(tool, running)
            raise

    def _overran(self, tool: str, running: asyncio.Future[Any]) -> None:
        self.overrunning += 1
        metrics.TOOL_THREADS_OVERRUNNING.labels(tool).inc()

        def returned(fut: asyncio.Future[Any]) -> None:
            self.overrunning -= 1
            metrics.TOOL_THREADS_OVERRUNNING.labels(tool).dec()
            if not fut.cancelled():
                fut.exception()  # retrieved: a late failure is not an unhandled error

        running.add_done_callback(returned)

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
