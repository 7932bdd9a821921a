"""`within`: a bound on a coroutine, without a timer when it finishes at once."""

from __future__ import annotations

import asyncio

import pytest

from config.eager import within


async def answers_at_once() -> str:
    return "now"


async def answers_after(seconds: float, log: list[str]) -> str:
    try:
        await asyncio.sleep(seconds)
    except asyncio.CancelledError:
        log.append("cancelled")
        raise
    return "later"


async def fails_at_once() -> None:
    raise ValueError("bad input")


async def fails_after_a_pause() -> None:
    await asyncio.sleep(0)
    raise ValueError("bad later")


async def test_within_arms_no_timer_for_what_finishes_at_once(timers: list[float]) -> None:
    assert await within(answers_at_once(), 1.0) == "now"
    assert timers == []


async def test_within_bounds_what_suspends(timers: list[float]) -> None:
    log: list[str] = []
    assert await within(answers_after(0.01, log), 5.0) == "later"
    assert timers == [5.0] and log == []


async def test_within_cancels_what_overruns_and_raises_timeout() -> None:
    log: list[str] = []
    with pytest.raises(TimeoutError):
        await within(answers_after(10.0, log), 0.05)
    assert log == ["cancelled"]


async def test_within_passes_errors_on_before_and_after_a_suspension() -> None:
    with pytest.raises(ValueError, match="bad input"):
        await within(fails_at_once(), 1.0)
    with pytest.raises(ValueError, match="bad later"):
        await within(fails_after_a_pause(), 1.0)


async def test_cancelling_the_caller_cancels_the_coroutine_not_as_a_timeout() -> None:
    log: list[str] = []
    caller = asyncio.create_task(within(answers_after(10.0, log), 5.0))
    await asyncio.sleep(0.01)
    caller.cancel()
    with pytest.raises(asyncio.CancelledError):
        await caller
    assert log == ["cancelled"]
