"""Model calls: when to make the next one, what it carries, and what its result adds.

A model call goes to `model.calls` under the conversation's key with a `call_id` of
`<conversation_id>#<iteration>`; re-publication after its lease reuses that id.
"""

from __future__ import annotations

from typing import Any, Literal

from agents.endings import finish
from agents.policy import tool_choice_for
from agents.state import ConversationState
from agents.structured_output import output_tool
from agents.transition import Context, Transition, lease, limits_of, running
from monitoring.observations import CallRedriven, ModelResultDropped, Spend, TokensUsed
from topics.messages import ModelCall, ModelResult

USAGE_KINDS: dict[str, Literal["input", "output", "cache_write", "cache_read"]] = {
    "input_tokens": "input",
    "output_tokens": "output",
    "cache_creation_input_tokens": "cache_write",
    "cache_read_input_tokens": "cache_read",
}


def tool_definitions(state: ConversationState) -> list[dict[str, Any]]:
    """The tools the model sees: the request's, plus the output tool for structured output."""
    tools = [spec.definition() for spec in state.tools]
    if state.options.output_schema is not None:
        tools.append(output_tool(state.options.output_schema))
    return tools


def budget_problem(state: ConversationState) -> str | None:
    """Why the conversation may not make another model call, if a budget is spent."""
    request = state.options
    if request.max_cost_usd is not None and state.cost_usd >= request.max_cost_usd:
        return f"spent ${state.cost_usd:.6f} of max_cost_usd ${request.max_cost_usd:g}"
    if request.max_tokens_total is not None and state.usage.total >= request.max_tokens_total:
        return f"used {state.usage.total} of max_tokens_total {request.max_tokens_total}"
    return None


def start(t: Transition, ctx: Context, detail: str) -> None:
    """Make the next model call, unless a budget or the iteration cap ends the conversation."""
    state = running(t)
    limits = limits_of(state, ctx)
    budget = budget_problem(state)
    if budget:
        finish(t, ctx, "budget_exceeded", error=budget)
        return
    if state.iteration >= limits.max_iterations:
        finish(
            t,
            ctx,
            "max_iterations",
            error=f"no final answer within max_iterations={limits.max_iterations}",
        )
        return
    state.iteration += 1
    state.model_call_id = f"{state.conversation_id}#{state.iteration}"
    state.model_call_sends = 0
    publish(t, ctx)
    t.event(ctx, "model_call_started", detail=detail)


def publish(t: Transition, ctx: Context) -> None:
    """Publish the current model call (again, on a re-drive: same call_id, same params)."""
    state = running(t)
    assert state.model_call_id is not None
    request = state.options
    params: dict[str, Any] = {
        "model": request.model or ctx.defaults.model,
        "max_tokens": request.max_tokens or ctx.defaults.max_tokens,
        "messages": state.messages,
    }
    if request.system:
        params["system"] = request.system
    tools = tool_definitions(state)
    choice = tool_choice_for(request, state.iteration, limits_of(state, ctx), bool(tools))
    if tools and choice is not None:
        params["tools"] = tools
        params["tool_choice"] = choice
    state.model_call_sends += 1
    state.model_call_lease_until = lease(ctx, state.deadline_at, state.model_call_sends)
    call = ModelCall(
        conversation_id=state.conversation_id,
        call_id=state.model_call_id,
        params=params,
        deadline_at=state.deadline_at,
    )
    t.emit(ctx.topics.model_calls.name, state.conversation_id, call)


def redrive(t: Transition, ctx: Context) -> str | None:
    """Re-publish the model call if its lease ran out; returns its id when it did."""
    state = running(t)
    lease_until = state.model_call_lease_until
    if state.model_call_id is None or lease_until is None or lease_until > ctx.now:
        return None
    publish(t, ctx)
    t.observe(CallRedriven("model"))
    return state.model_call_id


def take_result(t: Transition, result: ModelResult, ctx: Context) -> bool:
    """Account for a model result; False when it is not the one awaited (dropped)."""
    state = running(t)
    if result.call_id != state.model_call_id:
        t.observe(ModelResultDropped("duplicate"))
        return False
    state.model_call_id, state.model_call_lease_until = None, None
    state.usage = state.usage.plus(result.usage)
    cost = ctx.price(result.model, result.usage)
    state.cost_usd += cost
    t.observe(Spend(result.model, cost))
    for field_name, kind in USAGE_KINDS.items():
        tokens = getattr(result.usage, field_name)
        if tokens:
            t.observe(TokensUsed(result.model, kind, tokens))
    return True
