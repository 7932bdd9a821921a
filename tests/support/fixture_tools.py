"""Tools that exist only for the integration tests (loaded with `--module`)."""

from __future__ import annotations

import asyncio
import os
import time

from pydantic import BaseModel, Field

from tool_workers.definitions import CallContext, tool
from tool_workers.errors import FatalToolError, RetryableToolError


class Seconds(BaseModel):
    seconds: float = Field(ge=0, le=30)


class Entry(BaseModel):
    entry: int


class Nothing(BaseModel):
    pass


@tool(
    Seconds,
    timeout_s=1.0,
    description=(
        "Stall for the given seconds, longer than its own one-second deadline.\n"
        "Use when asked to stall.\n"
        "Do not use for anything else."
    ),
)
async def stall(args: Seconds, ctx: CallContext) -> str:
    await asyncio.sleep(args.seconds)
    return "finished stalling"


@tool(
    Nothing,
    timeout_s=5.0,
    description=(
        "Return ok, failing transiently on the first two attempts of each call.\n"
        "Use when asked for a flaky thing.\n"
        "Do not use for anything else."
    ),
)
def flaky(args: Nothing, ctx: CallContext) -> str:
    if ctx.attempt < 3:
        raise RetryableToolError(f"upstream 503 on attempt {ctx.attempt}")
    return f"ok on attempt {ctx.attempt}"


@tool(
    Nothing,
    timeout_s=5.0,
    description=(
        "Read a secret from the vault, which always rejects our credentials.\n"
        "Use when asked to open the vault.\n"
        "Do not use for anything else."
    ),
)
def vault(args: Nothing, ctx: CallContext) -> str:
    raise FatalToolError("vault credentials rejected")


@tool(
    Entry,
    timeout_s=5.0,
    ordered=True,
    description=(
        "Append an entry to the ledger; entries must be written in order.\n"
        "Use when asked to record a ledger entry.\n"
        "Do not use for reading the ledger."
    ),
)
async def ledger(args: Entry, ctx: CallContext) -> str:
    started = time.time()
    await asyncio.sleep(0.2)
    return f"entry={args.entry} start={started:.6f} end={time.time():.6f}"


class Hold(BaseModel):
    seconds: float = Field(ge=0, le=10)


@tool(
    Hold,
    timeout_s=20.0,
    idempotent=False,
    description=(
        "Charge a card once: the charge must never be made twice for one call.\n"
        "Use when asked to charge the card.\n"
        "Do not use to check a balance."
    ),
)
async def charge(args: Hold, ctx: CallContext) -> str:
    """Records every execution (one line per call id) where the tests can count them."""
    path = os.environ.get("AGENTSTREAM_TEST_EXECUTIONS")
    if path:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, f"{ctx.tool_use_id}\n".encode())
        finally:
            os.close(fd)
    await asyncio.sleep(args.seconds)
    return f"charged for {ctx.tool_use_id}"
