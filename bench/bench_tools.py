"""The benchmark suite's tools (`python -m bench.suite`); workers load them with
`--module bench.bench_tools`. Each is async, idempotent and does no I/O, so what a
benchmark measures is the platform around the call, not the call."""

from __future__ import annotations

import asyncio

from pydantic import BaseModel, Field

from bench.suite.names import NAP, NAP_MAX_S, NOOP, WORK100, WORK_S
from tool_workers.definitions import CallContext, tool


class NoopInput(BaseModel):
    note: str = Field(default="", max_length=200, description="Ignored; echoed back.")


class NapInput(BaseModel):
    seconds: float = Field(ge=0, le=NAP_MAX_S, description="How long to nap, in seconds.")


class WorkInput(BaseModel):
    job: str = Field(default="", max_length=200, description="Ignored; a label for the job.")


@tool(
    NoopInput,
    name=NOOP,
    description=(
        "Do nothing and return at once: a no-op for measuring the platform's own overhead.\n"
        "Use when asked to call noop.\n"
        "Do not use for any real work: it has no effect and returns no information."
    ),
    timeout_s=10.0,
)
async def noop(args: NoopInput, ctx: CallContext) -> str:
    return "ok"


@tool(
    NapInput,
    name=NAP,
    description=(
        "Nap for the given number of seconds, then say how long it napped.\n"
        "Use when asked to nap for a duration.\n"
        "Do not use to schedule work or to wait for an event to happen."
    ),
    timeout_s=NAP_MAX_S + 30.0,
)
async def nap(args: NapInput, ctx: CallContext) -> str:
    await asyncio.sleep(args.seconds)
    return f"napped {args.seconds:g}s"


@tool(
    WorkInput,
    name=WORK100,
    description=(
        "Simulate a job that takes 100 milliseconds of waiting (an async sleep).\n"
        "Use when asked to run work100.\n"
        "Do not use for real work: it only occupies its worker for 100 ms."
    ),
    timeout_s=10.0,
)
async def work100(args: WorkInput, ctx: CallContext) -> str:
    await asyncio.sleep(WORK_S)
    return "done"
