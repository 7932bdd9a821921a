"""`sleep`: waits a given time; a latency injector for benchmarks and tests."""

from __future__ import annotations

import asyncio

from pydantic import BaseModel, Field

from tool_workers.definitions import CallContext, tool


class SleepInput(BaseModel):
    seconds: float = Field(ge=0, le=60, description="How long to wait, in seconds.")


@tool(
    SleepInput,
    description=(
        "Wait for the given number of seconds, then report how long it waited.\n"
        "Use when asked to sleep, wait or pause for a duration.\n"
        "Do not use to schedule work or to wait for an event to happen."
    ),
    timeout_s=70.0,
)
async def sleep(args: SleepInput, ctx: CallContext) -> str:
    await asyncio.sleep(args.seconds)
    return f"slept {args.seconds:g}s"
