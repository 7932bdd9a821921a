"""What the state machine does with hostile or failing inputs: refuse, fail one, move on."""

from __future__ import annotations

import json

from agents.machine import Context, fail, refuse, step, too_large
from agents.state import FinishedConversation
from monitoring.observations import DuplicateRequest
from tests.support.conversations import (
    DEFAULTS,
    REGISTRY,
    ctx,
    model_result,
    request,
    response,
    sent,
    started,
    tool_use,
)
from topics.messages import (
    AgentEvent,
    AgentResponse,
    DeliveryFailure,
    ModelCall,
    ToolCall,
    ToolSpec,
)
from topics.names import Topics
from topics.reply_topics import ReplyTopicPolicy


def routed(t: object) -> list[tuple[str, str]]:
    return [(e.topic, e.message.status) for e in t.emits if isinstance(e.message, AgentResponse)]  # type: ignore[attr-defined]


def test_a_refused_reply_topic_is_answered_on_the_default_topic_and_nothing_is_stored() -> None:
    t = step(None, request(reply_topic="agent.steps"), ctx())
    assert t.state is None and not sent(t, ModelCall)
    assert routed(t) == [("agent.responses", "invalid_request")]
    assert "internal topics" in (response(t).error or "")
    assert [e.type for e in sent(t, AgentEvent)] == ["conversation_finished"]


def test_an_allowed_reply_topic_receives_the_final_response() -> None:
    state = started(reply_topic="replies.team")
    t = step(state, model_result(state, [{"type": "text", "text": "done"}], "end_turn"), ctx())
    assert routed(t) == [("replies.team", "completed")]


def test_the_state_keeps_the_prompt_once() -> None:
    prompt = "unique-prompt-text " * 50
    t = step(None, request(prompt=prompt), ctx())
    assert t.state is not None
    assert t.state.model_dump_json().count("unique-prompt-text") == 50
    assert "prompt" not in t.state.options.model_dump()


def test_a_duplicate_with_the_same_reply_topic_is_a_redelivery() -> None:
    state = started()
    t = step(state, request(), ctx())
    assert t.state is state and routed(t) == []
    (event,) = sent(t, AgentEvent)
    assert event.type == "duplicate_request" and "redelivery" in event.detail
    assert t.observations == [DuplicateRequest()]


def test_a_duplicate_for_another_reply_topic_is_told_the_id_is_in_use() -> None:
    state = started()
    t = step(state, request(reply_topic="replies.other"), ctx())
    assert t.state is state
    assert routed(t) == [("replies.other", "invalid_request")]
    assert "already in use" in (response(t).error or "")


def test_a_duplicate_of_a_finished_conversation_is_still_a_duplicate() -> None:
    state = started()
    done = step(state, model_result(state, [{"type": "text", "text": "x"}], "end_turn"), ctx())
    assert done.state is not None and done.state.finished
    t = step(done.state, request(reply_topic="replies.x"), ctx())
    assert "already in use" in (response(t).error or "")


def test_fail_ends_an_in_flight_conversation_once() -> None:
    state = started()
    t = fail(state, request(), ctx(), "internal error applying a ToolResult")
    assert t.state is not None and t.state.finished and t.state.status == "failed"
    assert response(t).error == "internal error applying a ToolResult"
    assert isinstance(t.state, FinishedConversation)


def test_fail_without_a_state_answers_the_request_without_storing() -> None:
    t = fail(None, request(reply_topic="replies.a", metadata={"k": "v"}), ctx(), "boom")
    assert t.state is None
    assert routed(t) == [("replies.a", "failed")] and response(t).metadata == {"k": "v"}


def test_too_large_refuses_a_new_request_and_fails_a_running_one() -> None:
    new = too_large(None, request(), ctx(), "state", 9_000_000, 8_000_000)
    assert new.state is None and response(new).status == "invalid_request"
    assert "9000000 bytes" in (response(new).error or "")
    assert "limit of 8000000 bytes" in (response(new).error or "")
    state = started()
    running = too_large(state, request(), ctx(), "model call", 9_000_000, 8_000_000)
    assert running.state is not None and response(running).status == "failed"


def test_a_call_that_never_reached_the_broker_fails_its_conversation() -> None:
    state = started()
    failure = DeliveryFailure(
        conversation_id="c1", call_id=state.model_call_id or "", topic="model.calls", error="e"
    )
    t = step(state, failure, ctx())
    assert response(t).status == "failed" and "could not be published" in (response(t).error or "")
    stale = DeliveryFailure(conversation_id="c1", call_id="c1#99", topic="t", error="e")
    assert step(state, stale, ctx()).emits == []


def test_a_tool_schema_that_cannot_be_applied_is_an_is_error_result_not_an_exception() -> None:
    broken = ToolSpec(
        name="calc",
        description="d",
        input_schema={"type": "object", "properties": {"x": {"$ref": "#/$defs/missing"}}},
        timeout_s=5,
    )
    context = Context(now=1000.0, defaults=DEFAULTS, registry={**REGISTRY, "calc": broken})
    state = step(None, request(), context).state
    assert state is not None
    t = step(state, model_result(state, tool_use(("u1", "calc", {"x": 1})), "tool_use"), context)
    assert not sent(t, ToolCall)
    (call,) = sent(t, ModelCall)
    blocks = call.params["messages"][-1]["content"]
    assert blocks[0]["is_error"] and "could not be applied" in blocks[0]["content"]


def test_refuse_echoes_the_id_and_uses_the_policy() -> None:
    policy = ReplyTopicPolicy(Topics("p."))
    context = Context(now=1.0, defaults=DEFAULTS, registry={}, reply_topics=policy)
    t = refuse("x" * 200, "__consumer_offsets", "bad", context)
    assert routed(t) == [("p.agent.responses", "invalid_request")]
    assert json.loads(response(t).model_dump_json())["conversation_id"] == "x" * 200
