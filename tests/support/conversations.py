"""Pure-state-machine fixtures shared by the unit and fuzz tests: a registry, requests,
model and tool results, and helpers to read a transition."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from agents.machine import Context, Transition, step
from agents.policy import Defaults
from agents.state import ConversationState
from topics.messages import AgentRequest, AgentResponse, ModelResult, ToolResult, ToolSpec, Usage

NUMBER_SCHEMA = {"type": "object", "properties": {"x": {"type": "number"}}, "required": ["x"]}
REGISTRY = {
    "calc": ToolSpec(name="calc", description="d", input_schema=NUMBER_SCHEMA, timeout_s=5),
    "slow": ToolSpec(name="slow", description="d", input_schema=NUMBER_SCHEMA, timeout_s=1),
    "write": ToolSpec(
        name="write", description="d", input_schema=NUMBER_SCHEMA, timeout_s=5, ordered=True
    ),
    "secret": ToolSpec(name="secret", description="d", input_schema=NUMBER_SCHEMA, timeout_s=5),
}
DEFAULTS = Defaults(
    model="m", max_iterations=4, max_tool_calls_per_turn=3, conversation_timeout_s=100
)


def ctx(now: float = 1000.0, **defaults: Any) -> Context:
    """A context at `now`; keyword arguments override fields of DEFAULTS."""
    return Context(
        now=now,
        defaults=replace(DEFAULTS, **defaults),
        registry=REGISTRY,
        price=lambda _m, u: u.input_tokens * 1e-6,
    )


def request(**kw: Any) -> AgentRequest:
    kw.setdefault("tools", ["calc", "slow", "write"])
    kw.setdefault("prompt", "hi")
    return AgentRequest(conversation_id="c1", **kw)


def tool_use(*calls: tuple[str, str, dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"type": "tool_use", "id": i, "name": n, "input": inp} for i, n, inp in calls]


def model_result(
    state: ConversationState, content: list[dict[str, Any]], stop: str, **kw: Any
) -> ModelResult:
    return ModelResult(
        conversation_id="c1",
        call_id=state.model_call_id or "?",
        model="m",
        content=content,
        stop_reason=stop,
        usage=Usage(input_tokens=10),
        **kw,
    )


def tool_result(tool_use_id: str, tool: str = "calc", **kw: Any) -> ToolResult:
    return ToolResult(
        conversation_id="c1",
        tool_use_id=tool_use_id,
        tool=tool,
        content=kw.pop("content", "42"),
        **kw,
    )


def sent(t: Transition, kind: type) -> list[Any]:
    return [e.message for e in t.emits if isinstance(e.message, kind)]


def response(t: Transition) -> AgentResponse:
    (only,) = sent(t, AgentResponse)
    return only


def started(**kw: Any) -> ConversationState:
    t = step(None, request(**kw), ctx())
    assert t.state is not None
    return t.state
