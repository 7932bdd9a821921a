"""Run one ToolCall: validate, honour the deadline, retry briefly, shape the ToolResult."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable

from pydantic import ValidationError

from config.eager import within
from tool_workers.definitions import CallContext, ToolDef
from tool_workers.errors import FatalToolError, InvalidToolInput, RetryableToolError, ToolError
from tool_workers.retrying import once_then_retry
from tool_workers.threads import ThreadSlots
from topics.messages import ToolCall, ToolResult

log = logging.getLogger(__name__)

TOOL_RETRY_ATTEMPTS = 3
"""Tool-side retries stay short so a turn cannot balloon (the model is the outer retry)."""
TOOL_RETRY_WAIT_INITIAL_S = 0.05
TOOL_RETRY_WAIT_MAX_S = 0.5
MAX_RESULT_CHARS = 100_000


def error_text(exc: BaseException) -> str:
    """`Error: Type: message`, the shape the model reads best."""
    return f"Error: {type(exc).__name__}: {exc}"


async def _run_once(
    tool: ToolDef, args: object, ctx: CallContext, timeout_s: float, threads: ThreadSlots
) -> str:
    if tool.is_async:  # in this task (no task per call), and no timer if it never waits
        result = await within(tool.fn(args, ctx), timeout_s)
    else:
        result = await threads.run(tool.name, tool.fn, args, ctx, timeout_s=timeout_s)
    text = result if isinstance(result, str) else str(result)
    return text[:MAX_RESULT_CHARS]


def _attempt(
    tool: ToolDef, call: ToolCall, args: object, attempts: list[int], threads: ThreadSlots
) -> Awaitable[str]:
    """One try, counted in `attempts[0]`, bounded by what is left of the call's deadline."""
    attempts[0] += 1
    ctx = CallContext(call.tool_use_id, call.conversation_id, call.deadline_at, attempts[0])
    remaining = call.deadline_at - time.time()
    if remaining <= 0:
        raise TimeoutError(f"deadline passed before attempt {attempts[0]}")
    return _run_once(tool, args, ctx, remaining, threads)


async def _run_with_retries(
    tool: ToolDef, call: ToolCall, args: object, attempts: list[int], threads: ThreadSlots
) -> str:
    """Run once; only a RetryableToolError brings in the remaining tries."""
    return await once_then_retry(
        lambda: _attempt(tool, call, args, attempts, threads),
        RetryableToolError,
        TOOL_RETRY_ATTEMPTS,
        TOOL_RETRY_WAIT_INITIAL_S,
        TOOL_RETRY_WAIT_MAX_S,
        call.deadline_at,
    )


async def execute(
    tool: ToolDef, call: ToolCall, worker: str, threads: ThreadSlots
) -> ToolResult | None:
    """The result of `call`, or None when it expired before any work started."""
    started = time.time()
    if started >= call.deadline_at:
        return None

    def result(
        content: str,
        *,
        is_error: bool = False,
        fatal: bool = False,
        error_type: str | None = None,
        attempts: int = 1,
    ) -> ToolResult:
        return ToolResult(
            conversation_id=call.conversation_id,
            tool_use_id=call.tool_use_id,
            tool=call.tool,
            content=content,
            is_error=is_error,
            fatal=fatal,
            error_type=error_type,
            attempts=attempts,
            duration_s=time.time() - started,
            dispatched_at=call.dispatched_at,
            worker=worker,
        )

    try:
        args = tool.input_model.model_validate(call.input)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        return result(f"Error: InvalidInput: {problems}", is_error=True, error_type="InvalidInput")
    attempts = [0]
    try:
        content = await _run_with_retries(tool, call, args, attempts, threads)
    except FatalToolError as exc:
        log.error(
            "Tool %s hit a fatal %s on call %s; failing the request.",
            call.tool,
            type(exc).__name__,
            call.tool_use_id,
        )
        return result(
            f"Error: {type(exc).__name__}",
            is_error=True,
            fatal=True,
            error_type=type(exc).__name__,
            attempts=attempts[0],
        )
    except (ToolError, TimeoutError) as exc:
        kind = "InvalidInput" if isinstance(exc, InvalidToolInput) else type(exc).__name__
        return result(error_text(exc), is_error=True, error_type=kind, attempts=attempts[0])
    except Exception as exc:  # a tool bug: the model hears about it, the worker keeps going
        log.exception("Tool %s raised unexpectedly on call %s.", call.tool, call.tool_use_id)
        return result(
            error_text(exc), is_error=True, error_type=type(exc).__name__, attempts=attempts[0]
        )
    return result(content, attempts=attempts[0])
