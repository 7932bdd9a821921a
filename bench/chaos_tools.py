"""The chaos harness's tool: a non-idempotent side effect whose every execution is counted.

Workers load it with `--module bench.chaos_tools`. Each execution appends the call's
`tool_use_id` to the ledger file named by AGENTSTREAM_CHAOS_LEDGER with one `os.write`
on an O_APPEND descriptor (atomic for short lines, even across worker processes), then
sleeps a little so a kill lands while calls are mid-execution. A `tool_use_id` that
appears twice in the ledger was executed twice.
"""

from __future__ import annotations

import asyncio
import os
import time
import zlib

from pydantic import BaseModel, Field

from bench.chaos_names import LEDGER_ENV, TOOL_NAME
from tool_workers.definitions import CallContext, tool

MIN_SLEEP_S = 0.2
MAX_SLEEP_S = 0.5
CALL_TIMEOUT_S = 20.0
"""A call interrupted by a kill is never run again (not idempotent): it ends as a tool
error at this deadline, well inside a conversation's timeout."""


class ChaosEntry(BaseModel):
    entry: str = Field(description="What to record, e.g. 'order 17'.", max_length=200)


def _ledger_fd() -> int:
    """The ledger, opened for appending on each call: unbuffered, so a SIGKILL right after
    the write cannot lose the line."""
    path = os.environ.get(LEDGER_ENV)
    if not path:
        raise RuntimeError(f"{LEDGER_ENV} is not set: the chaos tool has nowhere to record")
    return os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)


def record_execution(tool_use_id: str) -> None:
    """Append `tool_use_id<TAB>pid<TAB>unix time` as one line with a single write."""
    fd = _ledger_fd()
    try:
        os.write(fd, f"{tool_use_id}\t{os.getpid()}\t{time.time():.3f}\n".encode())
    finally:
        os.close(fd)


def pause_for(tool_use_id: str) -> float:
    """A sleep between MIN and MAX derived from the call id: varied, yet reproducible."""
    fraction = (zlib.crc32(tool_use_id.encode()) % 1000) / 1000
    return MIN_SLEEP_S + fraction * (MAX_SLEEP_S - MIN_SLEEP_S)


@tool(
    ChaosEntry,
    name=TOOL_NAME,
    timeout_s=CALL_TIMEOUT_S,
    idempotent=False,
    description=(
        "Record one chaos entry in the append-only chaos ledger and confirm it.\n"
        "Use when asked to record a chaos entry.\n"
        "Do not use for anything else: it exists only for the platform's chaos tests."
    ),
)
async def chaos_record(args: ChaosEntry, ctx: CallContext) -> str:
    record_execution(ctx.tool_use_id)
    await asyncio.sleep(pause_for(ctx.tool_use_id))
    return f"recorded chaos entry {args.entry!r}"
