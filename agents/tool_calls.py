"""Tool calls of one turn: refuse what may not run, dispatch the rest, gather results.

Every tool_use block gets exactly one tool_result: refused calls get an `is_error`
result at once, dispatched ones get the worker's result or a timeout. Functions that
can complete the turn return True when every call of it has its result; the machine
then sends the results to the model.
"""

from __future__ import annotations

from typing import Any

from agents.endings import finish
from agents.schemas import validation_error
from agents.state import ConversationState, PendingCall
from agents.structured_output import OUTPUT_TOOL
from agents.transition import Context, Transition, lease, limits_of, running
from monitoring.observations import (
    CallRedriven,
    CallsInTurn,
    ModelRecovery,
    ToolCallOutcome,
    ToolOutcome,
    ToolRoundTrip,
)
from topics.messages import ToolCall, ToolResult


def refusal(
    state: ConversationState, index: int, block: dict[str, Any], ctx: Context
) -> tuple[ToolOutcome, str] | None:
    """Why this tool_use cannot run, as (outcome, message for the model); None if it can."""
    cap = limits_of(state, ctx).max_tool_calls_per_turn
    name = block.get("name", "")
    if index >= cap:
        return "refused_cap", (
            f"Error: ToolCallLimit: this turn asked for more than {cap} tool "
            "calls; this call was not run. Ask for fewer calls per turn."
        )
    allowed = state.options.tools
    if name not in allowed:
        listed = ", ".join(allowed) or "none"
        if name in ctx.registry:
            return "refused_allowlist", (
                f"Error: ToolNotAllowed: tool {name!r} is not "
                f"available for this request; available: {listed}."
            )
        return "unknown", f"Error: UnknownTool: no tool named {name!r}; available: {listed}."
    spec = state.spec(name)
    problem = validation_error(spec.input_schema, block.get("input")) if spec else None
    if problem:
        return "refused_schema", f"Error: InvalidInput: {problem}"
    return None


def start_turn(t: Transition, content: list[dict[str, Any]], ctx: Context) -> bool:
    """Turn a model response's tool_use blocks into calls and dispatch what may run."""
    state = running(t)
    blocks = [b for b in content if b.get("type") == "tool_use"]
    if not blocks:
        finish(
            t,
            ctx,
            "failed",
            stop_reason="tool_use",
            error="stop_reason was tool_use but the response held no tool_use block",
        )
        return False
    t.observe(CallsInTurn(len(blocks)))
    finished, output_problem = _take_structured_output(t, blocks, ctx)
    if finished:
        return False
    for index, block in enumerate(blocks):
        name = block.get("name", "")
        if name in state.errored_tools:
            t.observe(ModelRecovery(name))
        call = PendingCall(tool_use_id=block["id"], tool=name, input=block.get("input") or {})
        state.calls.append(call)
        if output_problem is not None and name == OUTPUT_TOOL:
            _resolve(call, output_problem, is_error=True)
            continue
        refused = refusal(state, index, block, ctx)
        if refused:
            outcome, text = refused
            _resolve(call, text, is_error=True)
            t.observe(ToolCallOutcome(_label(name, state), outcome))
            continue
        spec = state.spec(name)
        call.ordered = bool(spec and spec.ordered) or state.options.disable_parallel_tool_use
        state.tool_calls += 1
    dispatched = _dispatch_ready(t, ctx)
    detail = f"stop_reason=tool_use; dispatched {', '.join(dispatched) or 'nothing'}"
    t.event(ctx, "model_call_finished", detail=detail)
    return turn_complete(state)


def _label(name: str, state: ConversationState) -> str:
    """A bounded metric label: tools outside the request's list collapse to 'other'."""
    return name if name in state.options.tools or name == OUTPUT_TOOL else "other"


def _take_structured_output(
    t: Transition, blocks: list[dict[str, Any]], ctx: Context
) -> tuple[bool, str | None]:
    """(finished, problem): finish with a valid output object, or say what is wrong with it."""
    state = running(t)
    schema = state.options.output_schema
    block = next((b for b in blocks if b.get("name") == OUTPUT_TOOL), None)
    if schema is None or block is None:
        return False, None
    problem = validation_error(schema, block.get("input"))
    if problem is None:
        finish(t, ctx, "completed", stop_reason="tool_use", output=block.get("input"))
        return True, None
    t.observe(ToolCallOutcome(OUTPUT_TOOL, "refused_schema"))
    return False, (
        f"Error: InvalidOutput: {problem}. Call {OUTPUT_TOOL} again with an object "
        "matching the schema."
    )


def _resolve(call: PendingCall, content: str, is_error: bool, timed_out: bool = False) -> None:
    call.status = "done"
    call.timed_out = timed_out
    call.result = {"type": "tool_result", "tool_use_id": call.tool_use_id, "content": content}
    if is_error:
        call.result["is_error"] = True


def _dispatch_ready(t: Transition, ctx: Context) -> list[str]:
    """Dispatch every waiting call that may run now: all parallel ones, one ordered one."""
    state = running(t)
    ordered_busy = any(c.ordered and c.status == "dispatched" for c in state.calls)
    sent: list[str] = []
    for call in state.calls:
        if call.status != "waiting":
            continue
        if call.ordered:
            if ordered_busy:
                continue
            ordered_busy = True
        _dispatch(t, call, ctx)
        sent.append(call.tool)
    return sent


def _dispatch(t: Transition, call: PendingCall, ctx: Context) -> None:
    state = running(t)
    spec = state.spec(call.tool)
    timeout_s = spec.timeout_s if spec else ctx.defaults.tool_timeout_s
    call.status = "dispatched"
    call.dispatched_at = ctx.now
    call.deadline_at = min(ctx.now + timeout_s, state.deadline_at)
    _publish(t, call, ctx)


def _publish(t: Transition, call: PendingCall, ctx: Context) -> None:
    """Publish a dispatched call (again, on a re-drive: the same tool_use_id and input)."""
    state = running(t)
    assert call.deadline_at is not None and call.dispatched_at is not None
    call.sends += 1
    call.lease_until = lease(ctx, call.deadline_at, call.sends)
    message = ToolCall(
        conversation_id=state.conversation_id,
        tool_use_id=call.tool_use_id,
        tool=call.tool,
        input=call.input,
        deadline_at=call.deadline_at,
        dispatched_at=call.dispatched_at,
    )
    key = state.conversation_id if call.ordered else call.tool_use_id
    t.emit(ctx.topics.tool_calls(call.tool).name, key, message)


def take_result(t: Transition, result: ToolResult, ctx: Context) -> bool:
    """Apply a worker's result to its call; late and duplicate results are only counted."""
    state = running(t)
    call = next((c for c in state.calls if c.tool_use_id == result.tool_use_id), None)
    if call is None or call.status != "dispatched":
        late = (call is not None and call.timed_out) or (
            state.resolved.get(result.tool_use_id) == "timeout"
        )
        t.observe(ToolCallOutcome(_label(result.tool, state), "late" if late else "duplicate"))
        return False
    if result.fatal:
        finish(
            t,
            ctx,
            "failed",
            error=f"tool {result.tool!r} failed with a fatal "
            f"{result.error_type or 'error'}; the request was stopped",
        )
        t.observe(ToolCallOutcome(result.tool, "fatal"))
        return False
    _resolve(call, result.content, is_error=result.is_error)
    t.observe(ToolCallOutcome(result.tool, "error" if result.is_error else "ok"))
    t.observe(ToolRoundTrip(result.tool, ctx.now - (call.dispatched_at or ctx.now)))
    _dispatch_ready(t, ctx)
    t.event(
        ctx,
        "tool_finished",
        tool=result.tool,
        tool_use_id=result.tool_use_id,
        duration_s=result.duration_s,
        worker=result.worker,
        detail="is_error" if result.is_error else "ok",
    )
    return turn_complete(state)


def expire(t: Transition, ctx: Context) -> bool:
    """Answer every dispatched call past its deadline with a timeout error."""
    state = running(t)
    expired = [
        c
        for c in state.calls
        if c.status == "dispatched" and c.deadline_at is not None and c.deadline_at <= ctx.now
    ]
    for call in expired:
        waited = ctx.now - (call.dispatched_at or ctx.now)
        _resolve(
            call,
            f"Error: TimeoutError: tool {call.tool!r} did not answer within "
            f"{waited:.1f}s; the call was abandoned.",
            is_error=True,
            timed_out=True,
        )
        t.observe(ToolCallOutcome(call.tool, "timeout"))
    if not expired:
        return False
    _dispatch_ready(t, ctx)
    t.event(ctx, "tool_timed_out", detail=", ".join(c.tool_use_id for c in expired))
    return turn_complete(state)


def redrive(t: Transition, ctx: Context) -> list[str]:
    """Re-publish every dispatched call whose lease ran out; returns their ids."""
    again: list[str] = []
    for call in running(t).calls:
        if call.status == "dispatched" and call.lease_until and call.lease_until <= ctx.now:
            _publish(t, call, ctx)
            t.observe(CallRedriven("tool", call.tool))
            again.append(call.tool_use_id)
    return again


def is_pending(state: ConversationState, call_id: str) -> bool:
    """Whether a tool call with this id is out with a worker."""
    return any(c.tool_use_id == call_id and c.status == "dispatched" for c in state.calls)


def turn_complete(state: ConversationState) -> bool:
    return not state.finished and bool(state.calls) and all(c.status == "done" for c in state.calls)


def close_turn(state: ConversationState) -> None:
    """Send every result of the turn to the model as one user turn, in call order."""
    blocks = [c.result for c in state.calls if c.result is not None]
    state.messages.append({"role": "user", "content": blocks})
    state.errored_tools = sorted(
        {c.tool for c in state.calls if c.result and c.result.get("is_error")}
    )
    state.retire_calls()
