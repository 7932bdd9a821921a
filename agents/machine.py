"""The orchestrator's decisions: a pure function of (state, event, context) -> transition.

No I/O here. The Faust agent loads the state, calls `step`, stores the new state and
sends the emitted messages; tests drive `step` directly. This module routes each event;
`model_calls`, `tool_calls` and `endings` hold what happens to each part of a turn.
"""

from __future__ import annotations

from collections.abc import Mapping

from agents import model_calls, tool_calls
from agents.endings import fail, finish, refuse, too_large
from agents.policy import Limits
from agents.schemas import schema_error
from agents.state import ConversationState, FinishedConversation
from agents.structured_output import OUTPUT_TOOL
from agents.transition import Context, Emit, Event, State, Transition, limits_of, running
from monitoring.observations import DuplicateRequest, ModelResultDropped, ToolCallOutcome
from topics.messages import (
    AgentRequest,
    AgentResponse,
    DeliveryFailure,
    ModelResult,
    Status,
    Tick,
    ToolResult,
    ToolSpec,
)

__all__ = ["Context", "Emit", "Event", "State", "Transition", "fail", "refuse", "step", "too_large"]

FINISHING_STOP_REASONS: dict[str, Status] = {
    "max_tokens": "max_tokens",
    "refusal": "refusal",
    "stop_sequence": "stop_sequence",
    "model_context_window_exceeded": "model_context_window_exceeded",
}


def step(state: State | None, event: Event, ctx: Context) -> Transition:
    """Apply one event to one conversation."""
    if isinstance(event, AgentRequest):
        return _on_request(state, event, ctx)
    forget = isinstance(state, FinishedConversation) and ctx.now >= state.forget_at
    if forget and isinstance(event, Tick):
        return Transition(None, forget=True)
    if state is None or state.finished:
        return _ignored(state, event)
    assert isinstance(state, ConversationState)
    state = state.for_update()
    t = Transition(state)
    if ctx.now >= state.deadline_at:
        timeout_s = limits_of(state, ctx).timeout_s
        finish(t, ctx, "timed_out", error=f"conversation exceeded its timeout of {timeout_s:g}s")
        return t
    if isinstance(event, ModelResult):
        _on_model_result(t, event, ctx)
    elif isinstance(event, ToolResult):
        if tool_calls.take_result(t, event, ctx):
            _next_turn(t, ctx)
    elif isinstance(event, DeliveryFailure):
        _on_delivery_failure(t, event, ctx)
    else:
        _on_tick(t, ctx)
    return t


def _ignored(state: State | None, event: Event) -> Transition:
    t = Transition(state)
    if isinstance(event, ToolResult):
        t.observe(ToolCallOutcome(event.tool, "late"))
    elif isinstance(event, ModelResult):
        t.observe(ModelResultDropped("late"))
    return t


# --- requests -------------------------------------------------------------------------


def _request_problem(request: AgentRequest, registry: Mapping[str, ToolSpec]) -> str | None:
    unknown = [name for name in request.tools if name not in registry]
    if unknown:
        known = ", ".join(sorted(registry)) or "none"
        return f"unknown tools {unknown}; registered tools: {known}"
    if request.output_schema is not None:
        if OUTPUT_TOOL in request.tools:
            return f"a tool named {OUTPUT_TOOL!r} clashes with structured output"
        problem = schema_error(request.output_schema)
        if problem:
            return f"output_schema is not a valid JSON schema: {problem}"
    choice = request.tool_choice
    if choice.type == "tool" and choice.name not in request.tools:
        return f"tool_choice names {choice.name!r}, which is not among the request's tools"
    if choice.type in ("any", "tool") and not request.tools and request.output_schema is None:
        return f"tool_choice {choice.type!r} needs at least one tool"
    return None


def _on_request(state: State | None, request: AgentRequest, ctx: Context) -> Transition:
    if state is not None:
        return _duplicate(state, request, ctx)
    reply_problem = ctx.reply_topics.problem(request.reply_topic)
    problem = reply_problem or _request_problem(request, ctx.registry)
    if problem:
        return refuse(
            request.conversation_id, request.reply_topic, problem, ctx, metadata=request.metadata
        )
    options = request.options()
    limits = Limits.of(options, ctx.defaults)
    messages = request.messages or [{"role": "user", "content": request.prompt}]
    new = ConversationState(
        conversation_id=request.conversation_id,
        options=options,
        tools=[ctx.registry[name] for name in options.tools if name in ctx.registry],
        started_at=ctx.now,
        deadline_at=ctx.now + limits.timeout_s,
        requested_at=ctx.published_at,
        messages=list(messages),
    )
    t = Transition(new)
    model_calls.start(t, ctx, detail="request accepted")
    return t


def _duplicate(state: State, request: AgentRequest, ctx: Context) -> Transition:
    """A request for an id in use: a redelivery when it names the same reply topic as the
    first (no second answer), else a refusal on its own reply topic."""
    t = Transition(state)
    t.observe(DuplicateRequest())
    mine = ctx.reply_topics.resolve(state.reply_topic)
    theirs = ctx.reply_topics.resolve(request.reply_topic)
    same = mine == theirs
    t.event(
        ctx,
        "duplicate_request",
        detail="redelivery ignored" if same else f"refused: id already in use ({theirs})",
    )
    if not same:
        error = f"conversation_id {request.conversation_id!r} is already in use"
        response = AgentResponse(
            conversation_id=request.conversation_id,
            status="invalid_request",
            error=error,
            metadata=request.metadata,
        )
        t.emit(theirs, request.conversation_id, response)
    return t


# --- results and timers ---------------------------------------------------------------


def _on_model_result(t: Transition, result: ModelResult, ctx: Context) -> None:
    if not model_calls.take_result(t, result, ctx):
        return
    state = running(t)
    if result.error is not None:
        error = f"model call failed: {result.error.type}: {result.error.message}"
        finish(t, ctx, "failed", error=error)
        return
    state.messages.append({"role": "assistant", "content": result.content})
    reason = result.stop_reason or ""
    if reason == "tool_use":
        if tool_calls.start_turn(t, result.content, ctx):
            _next_turn(t, ctx)
    elif reason == "end_turn":
        if state.options.output_schema is not None:
            error = "the model ended its turn without producing the structured output"
            finish(t, ctx, "failed", stop_reason=reason, error=error)
        else:
            finish(t, ctx, "completed", stop_reason=reason)
    elif reason == "pause_turn":
        model_calls.start(t, ctx, detail="pause_turn: continuing the paused turn")
    elif reason in FINISHING_STOP_REASONS:
        finish(t, ctx, FINISHING_STOP_REASONS[reason], stop_reason=reason)
    else:
        error = f"unexpected stop_reason {reason!r}"
        finish(t, ctx, "failed", stop_reason=reason or None, error=error)


def _next_turn(t: Transition, ctx: Context) -> None:
    """Every call of the turn has its result: send them to the model."""
    tool_calls.close_turn(running(t))
    model_calls.start(t, ctx, detail="tool results sent")


def _on_tick(t: Transition, ctx: Context) -> None:
    complete = tool_calls.expire(t, ctx)
    _redrive(t, ctx)
    if complete:
        _next_turn(t, ctx)


def _redrive(t: Transition, ctx: Context) -> None:
    """Re-publish every call whose lease ran out without a result, under the same id.

    A call can go missing without anyone failing: a crash between storing "dispatched"
    and the broker's acknowledgement of the call, or a worker that died holding it.
    Workers treat the id as an idempotency key and the machine applies one result per id,
    so publishing again is always safe.
    """
    model_call = model_calls.redrive(t, ctx)
    again = [model_call] if model_call else []
    again += tool_calls.redrive(t, ctx)
    if again:
        t.event(ctx, "call_redriven", detail=", ".join(again))


def _on_delivery_failure(t: Transition, failure: DeliveryFailure, ctx: Context) -> None:
    state = running(t)
    pending = failure.call_id == state.model_call_id
    if not (pending or tool_calls.is_pending(state, failure.call_id)):
        t.observe(ModelResultDropped("stale_delivery_failure"))
        return
    error = f"call {failure.call_id} could not be published to {failure.topic}: {failure.error}"
    finish(t, ctx, "failed", error=error)
