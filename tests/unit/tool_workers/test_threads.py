"""Sync tools that overrun: bounded threads, counted, capacity given back when they return."""

from __future__ import annotations

import threading
import time

import pytest
from pydantic import BaseModel

from tool_workers.definitions import ToolDef
from tool_workers.executor import execute
from tool_workers.threads import ThreadSlots
from topics.messages import ToolCall


class Nothing(BaseModel):
    pass


async def test_an_overrunning_thread_is_counted_until_it_returns() -> None:
    slots = ThreadSlots(2)
    release = threading.Event()
    with pytest.raises(TimeoutError):
        await slots.run("t", release.wait, 5, timeout_s=0.05)
    assert slots.overrunning == 1
    release.set()
    deadline = time.monotonic() + 5
    while slots.overrunning and time.monotonic() < deadline:
        await _yield()
    assert slots.overrunning == 0
    slots.shutdown()


async def test_the_pool_never_grows_beyond_its_size() -> None:
    slots = ThreadSlots(2)
    release = threading.Event()
    for _ in range(2):
        with pytest.raises(TimeoutError):
            await slots.run("t", release.wait, 5, timeout_s=0.01)
    before = threading.active_count()
    with pytest.raises(TimeoutError):  # queued behind the two stuck threads, not a third one
        await slots.run("t", lambda: "ran", timeout_s=0.05)
    assert threading.active_count() == before and slots.overrunning == 2
    release.set()
    assert await slots.run("t", lambda: "ran", timeout_s=5) == "ran"
    slots.shutdown()


async def test_a_stuck_sync_tool_is_answered_as_timed_out() -> None:
    release = threading.Event()

    def stuck(args: Nothing, ctx: object) -> str:
        release.wait(5)
        return "late"

    tool = ToolDef("stuck", "d", Nothing, stuck, timeout_s=1, ordered=False)
    now = time.time()
    call = ToolCall(
        conversation_id="c",
        tool_use_id="u",
        tool="stuck",
        input={},
        deadline_at=now + 0.1,
        dispatched_at=now,
    )
    slots = ThreadSlots(1)
    result = await execute(tool, call, "w", slots)
    assert result is not None and result.is_error and result.error_type == "TimeoutError"
    assert slots.overrunning == 1
    release.set()
    slots.shutdown()


async def _yield() -> None:
    import asyncio

    await asyncio.sleep(0.01)
