"""How one call's outcome is classified: retried, refused, failed, fatal, or too late."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from pydantic import BaseModel

from tool_workers.definitions import CallContext, ToolDef
from tool_workers.errors import FatalToolError, InvalidToolInput, RetryableToolError
from tool_workers.executor import execute
from tool_workers.threads import ThreadSlots
from topics.messages import ToolCall


class Number(BaseModel):
    x: int


def tool(fn: Callable[..., Any], timeout_s: float = 5.0) -> ToolDef:
    """A ToolDef built directly, so the global registry stays as it is."""
    return ToolDef("t", "d", Number, fn, timeout_s, ordered=False)


def call(x: Any = 1, deadline_in_s: float = 5.0) -> ToolCall:
    now = time.time()
    return ToolCall(
        conversation_id="c",
        tool_use_id="u",
        tool="t",
        input={"x": x},
        deadline_at=now + deadline_in_s,
        dispatched_at=now,
    )


@pytest.fixture
async def threads() -> AsyncIterator[ThreadSlots]:
    slots = ThreadSlots(2)
    yield slots
    slots.shutdown()


async def test_a_retryable_error_is_retried_until_it_succeeds(threads: ThreadSlots) -> None:
    def flaky(args: Number, ctx: CallContext) -> str:
        if ctx.attempt < 3:
            raise RetryableToolError("busy")
        return f"ok {args.x}"

    result = await execute(tool(flaky), call(), "w", threads)
    assert result is not None and result.content == "ok 1" and result.attempts == 3
    assert not result.is_error


async def test_bad_input_is_refused_before_the_tool_runs(threads: ThreadSlots) -> None:
    ran = []
    result = await execute(tool(lambda a, c: ran.append(a)), call("nope"), "w", threads)
    assert result is not None and result.is_error and result.error_type == "InvalidInput"
    assert result.content.startswith("Error: InvalidInput: x:") and not ran


async def test_errors_are_classified_for_the_model(threads: ThreadSlots) -> None:
    def invalid(args: Number, ctx: CallContext) -> str:
        raise InvalidToolInput("x must be even")

    def buggy(args: Number, ctx: CallContext) -> str:
        raise KeyError("k")

    def fatal(args: Number, ctx: CallContext) -> str:
        raise FatalToolError("credentials revoked")

    refused = await execute(tool(invalid), call(), "w", threads)
    assert refused is not None and refused.error_type == "InvalidInput" and not refused.fatal
    bug = await execute(tool(buggy), call(), "w", threads)
    assert bug is not None and bug.is_error and bug.error_type == "KeyError"
    stop = await execute(tool(fatal), call(), "w", threads)
    assert stop is not None and stop.fatal and stop.is_error
    assert "credentials" not in stop.content, "a fatal error's message is not sent to the model"


async def test_a_call_past_its_deadline_is_not_run_and_a_slow_one_times_out(
    threads: ThreadSlots,
) -> None:
    assert await execute(tool(lambda a, c: "x"), call(deadline_in_s=-1), "w", threads) is None

    async def slow(args: Number, ctx: CallContext) -> str:
        await asyncio.sleep(5)
        return "late"

    result = await execute(tool(slow), call(deadline_in_s=0.2), "w", threads)
    assert result is not None and result.is_error and result.error_type == "TimeoutError"


async def test_an_async_tool_that_never_waits_runs_without_a_timer(
    threads: ThreadSlots, timers: list[float]
) -> None:
    async def at_once(args: Number, ctx: CallContext) -> str:
        return f"ok {args.x}"

    async def waits(args: Number, ctx: CallContext) -> str:
        await asyncio.sleep(0)
        return "later"

    done = await execute(tool(at_once), call(), "w", threads)
    assert done is not None and done.content == "ok 1" and timers == []
    later = await execute(tool(waits), call(deadline_in_s=5.0), "w", threads)
    assert later is not None and later.content == "later" and len(timers) == 1 and timers[0] <= 5.0
