"""Fuzzing `machine.step` with arbitrary event sequences: it never raises, answers once,
and pairs every tool_use with exactly one tool_result in the next user turn."""

from __future__ import annotations

import itertools
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from agents.machine import Context, Event, State, step
from agents.state import ConversationState, FinishedConversation
from agents.structured_output import OUTPUT_TOOL
from tests.support.conversations import DEFAULTS, REGISTRY
from topics.messages import (
    AgentRequest,
    AgentResponse,
    DeliveryFailure,
    ErrorInfo,
    ModelCall,
    ModelResult,
    Tick,
    ToolResult,
    Usage,
)

TOOL_NAMES = [*REGISTRY, "nope", OUTPUT_TOOL, ""]
IDS = ["u1", "u2", "u3", "u4"]
STOPS = ["tool_use", "end_turn", "max_tokens", "pause_turn", "refusal", "weird", None]
inputs = st.one_of(
    st.fixed_dictionaries({"x": st.integers() | st.text(max_size=3)}),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
    st.none(),
)
blocks = st.one_of(
    st.builds(
        lambda i, n, inp: {"type": "tool_use", "id": i, "name": n, "input": inp},
        st.sampled_from(IDS),
        st.sampled_from(TOOL_NAMES),
        inputs,
    ),
    st.builds(lambda s: {"type": "text", "text": s}, st.text(max_size=10)),
    st.just({"type": "mystery"}),
)
requests = st.builds(
    AgentRequest,
    conversation_id=st.just("c1"),
    prompt=st.text(max_size=20),
    tools=st.lists(st.sampled_from([*REGISTRY, "nope"]), max_size=4, unique=True),
    max_iterations=st.none() | st.integers(1, 4),
    max_tool_calls_per_turn=st.none() | st.integers(1, 3),
    disable_parallel_tool_use=st.booleans(),
    output_schema=st.none() | st.just({"type": "object", "required": ["a"]}),
    reply_topic=st.sampled_from([None, "replies.x", "agent.steps", "bad topic", "__x"]),
)
actions = st.lists(
    st.one_of(
        st.tuples(
            st.just("model"), st.lists(blocks, max_size=5), st.sampled_from(STOPS), st.booleans()
        ),
        st.tuples(st.just("tool"), st.sampled_from(IDS), st.booleans(), st.booleans()),
        st.tuples(st.just("tick"), st.floats(0, 200)),
        st.tuples(st.just("lost"), st.sampled_from([*IDS, "model"])),
    ),
    max_size=25,
)


def _event(action: tuple[Any, ...], state: State | None, now: float) -> Event:
    kind = action[0]
    running = state if isinstance(state, ConversationState) else None
    call_id = (running.model_call_id if running else None) or "c1#1"
    if kind == "model":
        _, content, stop, failed = action
        error = ErrorInfo(type="APIError", message="x") if failed and not content else None
        return ModelResult(
            conversation_id="c1",
            call_id=call_id,
            content=content,
            stop_reason=stop,
            usage=Usage(input_tokens=5),
            error=error,
        )
    if kind == "tool":
        _, tool_use_id, is_error, fatal = action
        return ToolResult(
            conversation_id="c1",
            tool_use_id=tool_use_id,
            tool="calc",
            content="r",
            is_error=is_error,
            fatal=fatal and is_error,
        )
    if kind == "tick":
        return Tick(conversation_id="c1", at=now)
    target = call_id if action[1] == "model" else action[1]
    return DeliveryFailure(conversation_id="c1", call_id=target, topic="t", error="e")


def _check_tool_results_pair_with_tool_uses(messages: list[dict[str, Any]]) -> None:
    for before, after in itertools.pairwise(messages):
        content = before.get("content")
        if before["role"] != "assistant" or after["role"] != "user":
            continue
        if not isinstance(content, list):
            continue
        asked = [b["id"] for b in content if b.get("type") == "tool_use"]
        if not asked or not isinstance(after.get("content"), list):
            continue
        answered = [b["tool_use_id"] for b in after["content"]]
        assert answered == asked, (asked, answered)


@given(requests, actions)
def test_any_sequence_of_events_is_applied_without_raising(
    request: AgentRequest, sequence: list[tuple[Any, ...]]
) -> None:
    now = 1000.0
    first = step(None, request, Context(now=now, defaults=DEFAULTS, registry=REGISTRY))
    state, responses = first.state, [e for e in first.emits if isinstance(e.message, AgentResponse)]
    forgotten = False
    for action in sequence:
        if action[0] == "tick":
            now += action[1]
        event = _event(action, state, now)
        before = state.model_dump_json() if state is not None else None
        t = step(state, event, Context(now=now, defaults=DEFAULTS, registry=REGISTRY))
        after = state.model_dump_json() if state is not None else None
        assert before == after, "step changed its input state (the orchestrator caches it)"
        responses += [e for e in t.emits if isinstance(e.message, AgentResponse)]
        for emit in t.emits:
            if isinstance(emit.message, ModelCall):
                _check_tool_results_pair_with_tool_uses(emit.message.params["messages"])
        assert t.forget == (state is not None and t.state is None)
        forgotten = forgotten or t.forget
        state = t.state
        if state is not None and state.finished:
            assert isinstance(state, FinishedConversation), "a finished state is compacted"
    assert len(responses) <= 1
    if forgotten:
        assert len(responses) == 1
    elif state is None:
        assert len(responses) == 1 and responses[0].message.status == "invalid_request"
    elif state.finished:
        assert len(responses) == 1 and responses[0].message.status == state.status
    else:
        assert not responses
