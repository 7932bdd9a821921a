"""The orchestrator's decisions: a pure function of (state, event, context) -> transition.

No I/O here. The Faust agent loads the state, calls `step`, stores the new state and
sends the emitted messages; tests drive `step` directly.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from agents.policy import OUTPUT_TOOL, OUTPUT_TOOL_DESCRIPTION, Defaults, Limits, tool_choice_for
from agents.schemas import schema_error, validation_error
from agents.state import ConversationState, FinishedConversation, PendingCall
from topics.messages import (
    AgentEvent,
    AgentRequest,
    AgentResponse,
    DeliveryFailure,
    EventType,
    Message,
    ModelCall,
    ModelResult,
    Status,
    Tick,
    ToolCall,
    ToolResult,
    ToolSpec,
    Usage,
)
from topics.names import Topics
from topics.reply_topics import ReplyTopicPolicy

Role = Literal["model_calls", "tool_calls", "responses", "events"]
FINISHING_STOP_REASONS: dict[str, Status] = {
    "max_tokens": "max_tokens",
    "refusal": "refusal",
    "stop_sequence": "stop_sequence",
    "model_context_window_exceeded": "model_context_window_exceeded",
}
DEFAULT_REPLY_POLICY = ReplyTopicPolicy(Topics())
Event = AgentRequest | ModelResult | ToolResult | Tick | DeliveryFailure
State = ConversationState | FinishedConversation
USAGE_KINDS = {
    "input_tokens": "input",
    "output_tokens": "output",
    "cache_creation_input_tokens": "cache_write",
    "cache_read_input_tokens": "cache_read",
}


@dataclass(frozen=True)
class Emit:
    """A message to send; `role` names the topic, `topic` overrides it (reply topics)."""

    role: Role
    key: str
    message: Message
    tool: str | None = None
    topic: str | None = None


@dataclass(frozen=True)
class Observation:
    """Something worth counting; monitoring maps these onto metrics."""

    name: str
    labels: dict[str, str] = field(default_factory=dict)
    value: float = 1.0


@dataclass(frozen=True)
class Context:
    """Everything outside the state that a decision may depend on."""

    now: float
    defaults: Defaults
    registry: Mapping[str, ToolSpec]
    price: Callable[[str, Usage], float] = lambda _model, _usage: 0.0
    reply_topics: ReplyTopicPolicy = DEFAULT_REPLY_POLICY


@dataclass
class Transition:
    """The new state plus what to send and what to count; `forget` deletes the entry."""

    state: State | None
    emits: list[Emit] = field(default_factory=list)
    observations: list[Observation] = field(default_factory=list)
    forget: bool = False

    def emit(self, emit: Emit) -> None:
        self.emits.append(emit)

    def observe(self, name: str, value: float = 1.0, **labels: str) -> None:
        self.observations.append(Observation(name, labels, value))

    def event(self, ctx: Context, type_: EventType, **fields: Any) -> None:
        assert self.state is not None
        self.emit(
            Emit(
                "events",
                self.state.conversation_id,
                AgentEvent(
                    conversation_id=self.state.conversation_id,
                    type=type_,
                    at=ctx.now,
                    iteration=self.state.iteration,
                    **fields,
                ),
            )
        )


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
    state = state.model_copy(deep=True)
    t = Transition(state)
    if ctx.now >= state.deadline_at:
        _finish(
            t,
            ctx,
            "timed_out",
            error=f"conversation exceeded its timeout of {_limits(state, ctx).timeout_s:g}s",
        )
        return t
    if isinstance(event, ModelResult):
        _on_model_result(t, event, ctx)
    elif isinstance(event, ToolResult):
        _on_tool_result(t, event, ctx)
    elif isinstance(event, DeliveryFailure):
        _on_delivery_failure(t, event, ctx)
    else:
        _on_tick(t, ctx)
    return t


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
    topic = ctx.reply_topics.resolve(reply_topic)
    t.emit(Emit("responses", conversation_id, response, topic=topic))
    event = AgentEvent(
        conversation_id=conversation_id,
        type="conversation_finished",
        at=ctx.now,
        detail=f"{status}: {error}",
    )
    t.emit(Emit("events", conversation_id, event))
    t.observe("conversation_finished", status=status, stop_reason="none")
    return t


def fail(state: State | None, event: Event, ctx: Context, error: str) -> Transition:
    """End the conversation `event` belongs to as `failed` (or refuse a new request).

    The orchestrator's edge calls this when applying `event` raised or produced something
    it could not store or send; the conversation stops with a clear error and only it.
    """
    if isinstance(state, ConversationState) and not state.finished:
        t = Transition(state.model_copy(deep=True))
        _finish(t, ctx, "failed", error=error)
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


def _ignored(state: State | None, event: Event) -> Transition:
    t = Transition(state)
    if isinstance(event, ToolResult):
        t.observe("tool_call", tool=event.tool, outcome="late")
    elif isinstance(event, ModelResult):
        t.observe("model_result_dropped", reason="late")
    return t


def _limits(state: ConversationState, ctx: Context) -> Limits:
    return Limits.of(state.options, ctx.defaults)


def _running(t: Transition) -> ConversationState:
    assert isinstance(t.state, ConversationState)
    return t.state


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
        messages=list(messages),
    )
    t = Transition(new)
    _start_model_call(t, ctx, detail="request accepted")
    return t


def _duplicate(state: State, request: AgentRequest, ctx: Context) -> Transition:
    """A request for an id in use: a redelivery when it names the same reply topic as the
    first (no second answer), else a refusal on its own reply topic."""
    t = Transition(state)
    t.observe("duplicate_request")
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
        t.emit(Emit("responses", request.conversation_id, response, topic=theirs))
    return t


# --- model calls ----------------------------------------------------------------------


def _tool_definitions(state: ConversationState) -> list[dict[str, Any]]:
    tools = [spec.definition() for spec in state.tools]
    if state.options.output_schema is not None:
        tools.append(
            {
                "name": OUTPUT_TOOL,
                "description": OUTPUT_TOOL_DESCRIPTION,
                "input_schema": state.options.output_schema,
            }
        )
    return tools


def _budget_problem(state: ConversationState) -> str | None:
    request = state.options
    if request.max_cost_usd is not None and state.cost_usd >= request.max_cost_usd:
        return f"spent ${state.cost_usd:.6f} of max_cost_usd ${request.max_cost_usd:g}"
    if request.max_tokens_total is not None and state.usage.total >= request.max_tokens_total:
        return f"used {state.usage.total} of max_tokens_total {request.max_tokens_total}"
    return None


def _start_model_call(t: Transition, ctx: Context, detail: str) -> None:
    state = _running(t)
    limits = _limits(state, ctx)
    budget = _budget_problem(state)
    if budget:
        _finish(t, ctx, "budget_exceeded", error=budget)
        return
    if state.iteration >= limits.max_iterations:
        _finish(
            t,
            ctx,
            "max_iterations",
            error=f"no final answer within max_iterations={limits.max_iterations}",
        )
        return
    state.iteration += 1
    state.model_call_id = f"{state.conversation_id}#{state.iteration}"
    state.model_call_sends = 0
    _send_model_call(t, ctx)
    t.event(ctx, "model_call_started", detail=detail)


def _lease(ctx: Context, deadline_at: float, sends: int) -> float | None:
    """When to re-publish a call sent now for the `sends`-th time, unless its deadline
    comes first. Each lease doubles: a call that is merely queued behind a backlog is
    not re-published again and again, adding to the backlog."""
    lease_until = ctx.now + ctx.defaults.call_lease_s * 2 ** min(sends - 1, 16)
    return lease_until if lease_until < deadline_at else None


def _send_model_call(t: Transition, ctx: Context) -> None:
    """Publish the current model call (again, on a re-drive: same call_id, same params)."""
    state = _running(t)
    assert state.model_call_id is not None
    limits = _limits(state, ctx)
    request = state.options
    params: dict[str, Any] = {
        "model": request.model or ctx.defaults.model,
        "max_tokens": request.max_tokens or ctx.defaults.max_tokens,
        "messages": state.messages,
    }
    if request.system:
        params["system"] = request.system
    tools = _tool_definitions(state)
    choice = tool_choice_for(request, state.iteration, limits, bool(tools))
    if tools and choice is not None:
        params["tools"] = tools
        params["tool_choice"] = choice
    state.model_call_sends += 1
    state.model_call_lease_until = _lease(ctx, state.deadline_at, state.model_call_sends)
    t.emit(
        Emit(
            "model_calls",
            state.conversation_id,
            ModelCall(
                conversation_id=state.conversation_id,
                call_id=state.model_call_id,
                params=params,
                deadline_at=state.deadline_at,
            ),
        )
    )


def _on_model_result(t: Transition, result: ModelResult, ctx: Context) -> None:
    state = _running(t)
    if result.call_id != state.model_call_id:
        t.observe("model_result_dropped", reason="duplicate")
        return
    state.model_call_id, state.model_call_lease_until = None, None
    state.usage = state.usage.plus(result.usage)
    cost = ctx.price(result.model, result.usage)
    state.cost_usd += cost
    t.observe("model_usage", cost, model=result.model)
    for field_name, kind in USAGE_KINDS.items():
        tokens = getattr(result.usage, field_name)
        if tokens:
            t.observe("tokens", float(tokens), model=result.model, kind=kind)
    if result.error is not None:
        _finish(
            t,
            ctx,
            "failed",
            error=f"model call failed: {result.error.type}: {result.error.message}",
        )
        return
    state.messages.append({"role": "assistant", "content": result.content})
    reason = result.stop_reason or ""
    if reason == "tool_use":
        _on_tool_use(t, result.content, ctx)
    elif reason == "end_turn":
        if state.options.output_schema is not None:
            _finish(
                t,
                ctx,
                "failed",
                stop_reason=reason,
                error="the model ended its turn without producing the structured output",
            )
        else:
            _finish(t, ctx, "completed", stop_reason=reason)
    elif reason == "pause_turn":
        _start_model_call(t, ctx, detail="pause_turn: continuing the paused turn")
    elif reason in FINISHING_STOP_REASONS:
        _finish(t, ctx, FINISHING_STOP_REASONS[reason], stop_reason=reason)
    else:
        _finish(
            t, ctx, "failed", stop_reason=reason or None, error=f"unexpected stop_reason {reason!r}"
        )


# --- tool turns -----------------------------------------------------------------------


def _refusal(
    state: ConversationState, index: int, block: dict[str, Any], ctx: Context
) -> tuple[str, str] | None:
    """Why this tool_use cannot run, as (outcome, message for the model); None if it can."""
    cap = _limits(state, ctx).max_tool_calls_per_turn
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


def _on_tool_use(t: Transition, content: list[dict[str, Any]], ctx: Context) -> None:
    state = _running(t)
    blocks = [b for b in content if b.get("type") == "tool_use"]
    if not blocks:
        _finish(
            t,
            ctx,
            "failed",
            stop_reason="tool_use",
            error="stop_reason was tool_use but the response held no tool_use block",
        )
        return
    t.observe("calls_per_turn", float(len(blocks)))
    finished, output_problem = _take_structured_output(t, blocks, ctx)
    if finished:
        return
    for index, block in enumerate(blocks):
        name = block.get("name", "")
        if name in state.errored_tools:
            t.observe("model_recovery", tool=name)
        call = PendingCall(tool_use_id=block["id"], tool=name, input=block.get("input") or {})
        state.calls.append(call)
        if output_problem is not None and name == OUTPUT_TOOL:
            _resolve(call, output_problem, is_error=True)
            continue
        refusal = _refusal(state, index, block, ctx)
        if refusal:
            outcome, text = refusal
            _resolve(call, text, is_error=True)
            t.observe("tool_call", tool=_label(name, state), outcome=outcome)
            continue
        spec = state.spec(name)
        call.ordered = bool(spec and spec.ordered) or state.options.disable_parallel_tool_use
        state.tool_calls += 1
    dispatched = _dispatch_ready(t, ctx)
    detail = f"stop_reason=tool_use; dispatched {', '.join(dispatched) or 'nothing'}"
    t.event(ctx, "model_call_finished", detail=detail)
    _maybe_complete_turn(t, ctx)


def _label(name: str, state: ConversationState) -> str:
    """A bounded metric label: tools outside the request's list collapse to 'other'."""
    return name if name in state.options.tools or name == OUTPUT_TOOL else "other"


def _take_structured_output(
    t: Transition, blocks: list[dict[str, Any]], ctx: Context
) -> tuple[bool, str | None]:
    """(finished, problem): finish with a valid output object, or say what is wrong with it."""
    state = _running(t)
    schema = state.options.output_schema
    block = next((b for b in blocks if b.get("name") == OUTPUT_TOOL), None)
    if schema is None or block is None:
        return False, None
    problem = validation_error(schema, block.get("input"))
    if problem is None:
        _finish(t, ctx, "completed", stop_reason="tool_use", output=block.get("input"))
        return True, None
    t.observe("tool_call", tool=OUTPUT_TOOL, outcome="refused_schema")
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
    state = _running(t)
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
    state = _running(t)
    spec = state.spec(call.tool)
    timeout_s = spec.timeout_s if spec else ctx.defaults.tool_timeout_s
    call.status = "dispatched"
    call.dispatched_at = ctx.now
    call.deadline_at = min(ctx.now + timeout_s, state.deadline_at)
    _publish_call(t, call, ctx)


def _publish_call(t: Transition, call: PendingCall, ctx: Context) -> None:
    """Publish a dispatched call (again, on a re-drive: the same tool_use_id and input)."""
    state = _running(t)
    assert call.deadline_at is not None and call.dispatched_at is not None
    call.sends += 1
    call.lease_until = _lease(ctx, call.deadline_at, call.sends)
    key = state.conversation_id if call.ordered else call.tool_use_id
    t.emit(
        Emit(
            "tool_calls",
            key,
            ToolCall(
                conversation_id=state.conversation_id,
                tool_use_id=call.tool_use_id,
                tool=call.tool,
                input=call.input,
                deadline_at=call.deadline_at,
                dispatched_at=call.dispatched_at,
            ),
            tool=call.tool,
        )
    )


def _on_tool_result(t: Transition, result: ToolResult, ctx: Context) -> None:
    state = _running(t)
    call = next((c for c in state.calls if c.tool_use_id == result.tool_use_id), None)
    if call is None or call.status != "dispatched":
        late = (call is not None and call.timed_out) or (
            state.resolved.get(result.tool_use_id) == "timeout"
        )
        t.observe(
            "tool_call", tool=_label(result.tool, state), outcome="late" if late else "duplicate"
        )
        return
    if result.fatal:
        _finish(
            t,
            ctx,
            "failed",
            error=f"tool {result.tool!r} failed with a fatal "
            f"{result.error_type or 'error'}; the request was stopped",
        )
        t.observe("tool_call", tool=result.tool, outcome="fatal")
        return
    _resolve(call, result.content, is_error=result.is_error)
    t.observe("tool_call", tool=result.tool, outcome="error" if result.is_error else "ok")
    t.observe("tool_dispatch_latency", ctx.now - (call.dispatched_at or ctx.now), tool=result.tool)
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
    _maybe_complete_turn(t, ctx)


def _on_tick(t: Transition, ctx: Context) -> None:
    state = _running(t)
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
        t.observe("tool_call", tool=call.tool, outcome="timeout")
    _redrive(t, ctx)
    if not expired:
        return
    _dispatch_ready(t, ctx)
    t.event(ctx, "tool_timed_out", detail=", ".join(c.tool_use_id for c in expired))
    _maybe_complete_turn(t, ctx)


def _redrive(t: Transition, ctx: Context) -> None:
    """Re-publish every call whose lease ran out without a result, under the same id.

    A call can go missing without anyone failing: a crash between storing "dispatched"
    and the broker's acknowledgement of the call, or a worker that died holding it.
    Workers treat the id as an idempotency key and the machine applies one result per id,
    so publishing again is always safe.
    """
    state = _running(t)
    again: list[str] = []
    lease = state.model_call_lease_until
    if state.model_call_id is not None and lease is not None and lease <= ctx.now:
        _send_model_call(t, ctx)
        t.observe("call_redriven", kind="model", tool="none")
        again.append(state.model_call_id)
    for call in state.calls:
        if call.status == "dispatched" and call.lease_until and call.lease_until <= ctx.now:
            _publish_call(t, call, ctx)
            t.observe("call_redriven", kind="tool", tool=call.tool)
            again.append(call.tool_use_id)
    if again:
        t.event(ctx, "call_redriven", detail=", ".join(again))


def _on_delivery_failure(t: Transition, failure: DeliveryFailure, ctx: Context) -> None:
    state = _running(t)
    pending = failure.call_id == state.model_call_id or any(
        c.tool_use_id == failure.call_id and c.status == "dispatched" for c in state.calls
    )
    if not pending:
        t.observe("model_result_dropped", reason="stale_delivery_failure")
        return
    _finish(
        t,
        ctx,
        "failed",
        error=f"call {failure.call_id} could not be published to {failure.topic}: {failure.error}",
    )


def _maybe_complete_turn(t: Transition, ctx: Context) -> None:
    """Once every call of the turn has a result, send them as one user turn, in order."""
    state = _running(t)
    if state.finished or not state.calls or any(c.status != "done" for c in state.calls):
        return
    blocks = [c.result for c in state.calls if c.result is not None]
    state.messages.append({"role": "user", "content": blocks})
    state.errored_tools = sorted(
        {c.tool for c in state.calls if c.result and c.result.get("is_error")}
    )
    state.retire_calls()
    _start_model_call(t, ctx, detail="tool results sent")


# --- endings --------------------------------------------------------------------------


def _final_text(state: ConversationState) -> str:
    for message in reversed(state.messages):
        if message.get("role") != "assistant":
            continue
        content = message.get("content")
        if isinstance(content, str):
            return content
        return "".join(b.get("text", "") for b in content or [] if b.get("type") == "text")
    return ""


def _finish(
    t: Transition,
    ctx: Context,
    status: Status,
    *,
    stop_reason: str | None = None,
    error: str | None = None,
    output: dict[str, Any] | None = None,
) -> None:
    state = _running(t)
    response = AgentResponse(
        conversation_id=state.conversation_id,
        status=status,
        stop_reason=stop_reason,
        text=_final_text(state),
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
    topic = ctx.reply_topics.resolve(state.options.reply_topic)
    t.emit(Emit("responses", state.conversation_id, response, topic=topic))
    t.event(ctx, "conversation_finished", detail=f"{status}" + (f": {error}" if error else ""))
    t.observe("conversation_finished", status=status, stop_reason=stop_reason or "none")
    t.observe("iterations", float(state.iteration))
    t.state = FinishedConversation(
        conversation_id=state.conversation_id,
        status=status,
        reply_topic=state.options.reply_topic,
        iteration=state.iteration,
        forget_at=ctx.now + ctx.defaults.finished_retention_s,
    )
