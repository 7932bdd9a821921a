"""How a conversation ends: its answer, its last event, and the small record kept after.

Also the refusals of requests that never start and the `failed` ending the
orchestrator's edge asks for when an event cannot be applied, stored or sent.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from agents.state import ConversationState, FinishedConversation
from agents.transition import Context, Event, State, Transition, running
from monitoring.observations import ConversationFinished, IterationsUsed
from topics.messages import AgentEvent, AgentRequest, AgentResponse, Status


def refuse(
    conversation_id: str,
    reply_topic: str | None,
    error: str,
    ctx: Context,
    *,
    status: Status = "invalid_request",
    metadata: Mapping[str, str] | None = None,
) -> Transition:
    """Answer a request that is not run (nothing is stored): `reply_topic` when allowed."""
    response = AgentResponse(
        conversation_id=conversation_id,
        status=status,
        error=error,
        metadata=dict(metadata or {}),
    )
    t = Transition(None)
    t.emit(ctx.reply_topics.resolve(reply_topic), conversation_id, response)
    event = AgentEvent(
        conversation_id=conversation_id,
        type="conversation_finished",
        at=ctx.now,
        detail=f"{status}: {error}",
    )
    t.emit(ctx.topics.agent_events.name, conversation_id, event)
    t.observe(ConversationFinished(status))
    return t


def fail(state: State | None, event: Event, ctx: Context, error: str) -> Transition:
    """End the conversation `event` belongs to as `failed` (or refuse a new request).

    The orchestrator's edge calls this when applying `event` raised or produced something
    it could not store or send; the conversation stops with a clear error and only it.
    """
    if isinstance(state, ConversationState) and not state.finished:
        t = Transition(state.for_update())
        finish(t, ctx, "failed", error=error)
        return t
    request = event if isinstance(event, AgentRequest) else None
    return refuse(
        event.conversation_id,
        request.reply_topic if request else None,
        error,
        ctx,
        status="failed",
        metadata=request.metadata if request else None,
    )


def too_large(
    state: State | None, event: Event, ctx: Context, what: str, size: int, limit: int
) -> Transition:
    """Refuse a request, or fail a conversation, whose next state or message is too big."""
    error = f"{what} would be {size} bytes as JSON, over the limit of {limit} bytes"
    if isinstance(event, AgentRequest) and state is None:
        return refuse(
            event.conversation_id,
            event.reply_topic,
            f"the request's {error}",
            ctx,
            metadata=event.metadata,
        )
    return fail(state, event, ctx, f"the conversation's {error}")


def final_text(state: ConversationState) -> str:
    """The text of the model's last turn."""
    for message in reversed(state.messages):
        if message.get("role") != "assistant":
            continue
        content = message.get("content")
        if isinstance(content, str):
            return content
        return "".join(b.get("text", "") for b in content or [] if b.get("type") == "text")
    return ""


def finish(
    t: Transition,
    ctx: Context,
    status: Status,
    *,
    stop_reason: str | None = None,
    error: str | None = None,
    output: dict[str, Any] | None = None,
) -> None:
    """Answer the conversation and keep only a `FinishedConversation` until `forget_at`."""
    state = running(t)
    response = AgentResponse(
        conversation_id=state.conversation_id,
        status=status,
        stop_reason=stop_reason,
        text=final_text(state),
        output=output,
        iterations=state.iteration,
        tool_calls=state.tool_calls,
        usage=state.usage,
        cost_usd=round(state.cost_usd, 10),
        error=error,
        duration_s=ctx.now - state.started_at,
        metadata=state.options.metadata,
        transcript=list(state.messages) if state.options.return_transcript else None,
    )
    state.status = status
    t.emit(ctx.reply_topics.resolve(state.options.reply_topic), state.conversation_id, response)
    t.event(ctx, "conversation_finished", detail=f"{status}" + (f": {error}" if error else ""))
    t.observe(ConversationFinished(status, stop_reason or "none"))
    t.observe(IterationsUsed(state.iteration))
    t.state = FinishedConversation(
        conversation_id=state.conversation_id,
        status=status,
        reply_topic=state.options.reply_topic,
        iteration=state.iteration,
        forget_at=ctx.now + ctx.defaults.finished_retention_s,
    )
