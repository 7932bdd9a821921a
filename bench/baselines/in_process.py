"""The no-infrastructure bounds of a fan-out: k awaits in one process, one after another or at once.

`sequential_fanout` is what an agent loop that runs its tool calls one by one pays (k times
the call); `gather_fanout` is the ideal a distributed fan-out tries to reach (one call's time).
"""

from __future__ import annotations

import asyncio
import time


async def sequential_fanout(k: int, sleep_s: float, reps: int) -> list[float]:
    """Wall seconds per rep of `k` sleeps of `sleep_s` awaited one after another."""
    walls = []
    for _ in range(reps):
        began = time.perf_counter()
        for _ in range(k):
            await asyncio.sleep(sleep_s)
        walls.append(time.perf_counter() - began)
    return walls


async def gather_fanout(k: int, sleep_s: float, reps: int) -> list[float]:
    """Wall seconds per rep of `k` sleeps of `sleep_s` awaited together with gather."""
    walls = []
    for _ in range(reps):
        began = time.perf_counter()
        await asyncio.gather(*(asyncio.sleep(sleep_s) for _ in range(k)))
        walls.append(time.perf_counter() - began)
    return walls
