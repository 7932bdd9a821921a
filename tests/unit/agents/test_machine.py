"""The conversation state machine, driven directly: no Kafka, no model, no clock."""

from __future__ import annotations

import pytest

from agents.machine import step
from agents.structured_output import OUTPUT_TOOL
from monitoring.observations import DuplicateRequest, ToolCallOutcome
from tests.support.conversations import (
    ctx,
    model_result,
    request,
    response,
    sent,
    started,
    tool_result,
    tool_use,
)
from topics.messages import (
    ModelCall,
    ModelResult,
    Tick,
    ToolCall,
    Usage,
)


def test_request_starts_the_first_model_call_with_registry_definitions() -> None:
    t = step(None, request(), ctx())
    (call,) = sent(t, ModelCall)
    assert [d["name"] for d in call.params["tools"]] == ["calc", "slow", "write"]
    assert call.params["tool_choice"] == {"type": "auto"}
    assert call.params["messages"] == [{"role": "user", "content": "hi"}]
    assert t.state is not None and t.state.iteration == 1


def test_unknown_requested_tool_is_an_invalid_request() -> None:
    t = step(None, request(tools=["calc", "nope"]), ctx())
    assert response(t).status == "invalid_request"
    assert "nope" in (response(t).error or "")
    assert not sent(t, ModelCall)


def test_duplicate_request_is_ignored() -> None:
    state = started()
    t = step(state, request(), ctx())
    assert [e.message.type for e in t.emits] == ["duplicate_request"]
    assert t.observations[0] == DuplicateRequest()


def test_parallel_fan_out_and_results_in_model_order() -> None:
    state = started()
    blocks = tool_use(("a", "calc", {"x": 1}), ("b", "slow", {"x": 2}), ("c", "calc", {"x": 3}))
    t = step(state, model_result(state, blocks, "tool_use"), ctx())
    calls = sent(t, ToolCall)
    assert [c.tool_use_id for c in calls] == ["a", "b", "c"]
    assert {e.key for e in t.emits if isinstance(e.message, ToolCall)} == {"a", "b", "c"}
    state = t.state
    for tid, tool in (("c", "calc"), ("a", "calc"), ("b", "slow")):
        t = step(state, tool_result(tid, tool, content=f"r{tid}"), ctx(1001))
        state = t.state
    (follow_up,) = sent(t, ModelCall)
    last = follow_up.params["messages"][-1]
    assert last["role"] == "user"
    assert [b["tool_use_id"] for b in last["content"]] == ["a", "b", "c"]
    assert [b["content"] for b in last["content"]] == ["ra", "rb", "rc"]


def test_every_tool_use_gets_exactly_one_result_including_refusals() -> None:
    state = started(tools=["calc"], max_tool_calls_per_turn=4)
    blocks = tool_use(
        ("a", "calc", {"x": 1}),
        ("b", "calc", {"x": "no"}),
        ("c", "secret", {"x": 1}),
        ("d", "ghost", {}),
        ("e", "calc", {"x": 5}),
    )
    t = step(state, model_result(state, blocks, "tool_use"), ctx())
    assert [c.tool_use_id for c in sent(t, ToolCall)] == ["a"]
    outcomes = {o.outcome for o in t.observations if isinstance(o, ToolCallOutcome)}
    assert outcomes == {"refused_schema", "refused_allowlist", "unknown", "refused_cap"}
    t = step(t.state, tool_result("a"), ctx())
    blocks_back = sent(t, ModelCall)[0].params["messages"][-1]["content"]
    assert [b["tool_use_id"] for b in blocks_back] == ["a", "b", "c", "d", "e"]
    assert [bool(b.get("is_error")) for b in blocks_back] == [False, True, True, True, True]
    assert "InvalidInput" in blocks_back[1]["content"]
    assert "ToolNotAllowed" in blocks_back[2]["content"]
    assert "UnknownTool" in blocks_back[3]["content"]
    assert "ToolCallLimit" in blocks_back[4]["content"]


def test_timeout_becomes_is_error_and_late_result_is_dropped() -> None:
    state = started()
    t = step(
        state,
        model_result(state, tool_use(("a", "slow", {"x": 1}), ("b", "calc", {"x": 1})), "tool_use"),
        ctx(),
    )
    t = step(t.state, tool_result("b"), ctx(1000.5))
    assert not sent(t, ModelCall)
    t = step(t.state, Tick(conversation_id="c1", at=1001.0), ctx(1001.0))
    (follow_up,) = sent(t, ModelCall)
    first = follow_up.params["messages"][-1]["content"][0]
    assert first["is_error"] is True and "TimeoutError" in first["content"]
    t2 = step(t.state, tool_result("a", "slow"), ctx(1002))
    assert t2.emits == []
    assert [o.outcome for o in t2.observations] == ["late"]  # type: ignore[union-attr]


def test_duplicate_result_is_not_applied_twice() -> None:
    state = started()
    t = step(
        state,
        model_result(state, tool_use(("a", "calc", {"x": 1}), ("b", "calc", {"x": 2})), "tool_use"),
        ctx(),
    )
    t = step(t.state, tool_result("a"), ctx())
    t2 = step(t.state, tool_result("a"), ctx())
    assert t2.emits == [] and t2.observations == [ToolCallOutcome("calc", "duplicate")]


@pytest.mark.parametrize(
    "reason", ["max_tokens", "refusal", "stop_sequence", "model_context_window_exceeded"]
)
def test_terminal_stop_reasons_finish_with_that_status(reason: str) -> None:
    state = started()
    t = step(state, model_result(state, [{"type": "text", "text": "x"}], reason), ctx())
    assert response(t).status == reason and not sent(t, ModelCall)


def test_end_turn_completes_and_pause_turn_continues() -> None:
    state = started()
    t = step(state, model_result(state, [{"type": "text", "text": "wait"}], "pause_turn"), ctx())
    (again,) = sent(t, ModelCall)
    assert again.params["messages"][-1]["role"] == "assistant"
    t = step(t.state, model_result(t.state, [{"type": "text", "text": "done"}], "end_turn"), ctx())
    assert response(t).status == "completed" and response(t).text == "done"
    assert response(t).iterations == 2


def test_max_iterations_and_final_turn_none() -> None:
    state = started(final_turn_none=True)
    for i in range(3):
        t = step(
            state, model_result(state, tool_use((f"id{i}", "calc", {"x": i})), "tool_use"), ctx()
        )
        t = step(t.state, tool_result(f"id{i}"), ctx())
        state = t.state
    (last_call,) = sent(t, ModelCall)
    assert last_call.params["tool_choice"] == {"type": "none"}
    t = step(state, model_result(state, tool_use(("z", "calc", {"x": 1})), "tool_use"), ctx())
    t = step(t.state, tool_result("z"), ctx())
    assert response(t).status == "max_iterations" and response(t).iterations == 4


def test_ordered_tools_dispatch_one_after_another() -> None:
    state = started()
    blocks = tool_use(("w1", "write", {"x": 1}), ("p", "calc", {"x": 2}), ("w2", "write", {"x": 3}))
    t = step(state, model_result(state, blocks, "tool_use"), ctx())
    assert [c.tool_use_id for c in sent(t, ToolCall)] == ["w1", "p"]
    assert [e.key for e in t.emits if isinstance(e.message, ToolCall)] == ["c1", "p"]
    t = step(t.state, tool_result("w1", "write"), ctx())
    assert [c.tool_use_id for c in sent(t, ToolCall)] == ["w2"]


def test_disable_parallel_tool_use_serialises_everything() -> None:
    state = started(disable_parallel_tool_use=True)
    first_call = step(None, request(disable_parallel_tool_use=True), ctx())
    assert sent(first_call, ModelCall)[0].params["tool_choice"]["disable_parallel_tool_use"]
    blocks = tool_use(("a", "calc", {"x": 1}), ("b", "calc", {"x": 2}))
    t = step(state, model_result(state, blocks, "tool_use"), ctx())
    assert [c.tool_use_id for c in sent(t, ToolCall)] == ["a"]


def test_structured_output_forced_and_validated() -> None:
    schema = {"type": "object", "properties": {"total": {"type": "number"}}, "required": ["total"]}
    t = step(None, request(tools=[], output_schema=schema), ctx())
    (call,) = sent(t, ModelCall)
    assert call.params["tool_choice"] == {"type": "tool", "name": OUTPUT_TOOL}
    state = t.state
    bad = step(
        state, model_result(state, tool_use(("o1", OUTPUT_TOOL, {"total": "x"})), "tool_use"), ctx()
    )
    (retry,) = sent(bad, ModelCall)
    assert retry.params["messages"][-1]["content"][0]["is_error"] is True
    good = step(
        bad.state,
        model_result(bad.state, tool_use(("o2", OUTPUT_TOOL, {"total": 3})), "tool_use"),
        ctx(),
    )
    assert response(good).status == "completed" and response(good).output == {"total": 3}


def test_fatal_tool_error_fails_without_telling_the_model() -> None:
    state = started()
    t = step(state, model_result(state, tool_use(("a", "calc", {"x": 1})), "tool_use"), ctx())
    t = step(
        t.state,
        tool_result(
            "a", is_error=True, fatal=True, error_type="AuthError", content="Error: AuthError: bad"
        ),
        ctx(),
    )
    assert response(t).status == "failed" and "AuthError" in (response(t).error or "")
    assert not sent(t, ModelCall)


def test_conversation_deadline_ends_with_timed_out() -> None:
    state = started(timeout_s=5)
    t = step(state, Tick(conversation_id="c1", at=1006), ctx(1006))
    assert response(t).status == "timed_out"


def test_model_error_fails_and_usage_costs_add_up() -> None:
    state = started()
    t = step(state, model_result(state, [{"type": "text", "text": "a"}], "pause_turn"), ctx())
    result = ModelResult(
        conversation_id="c1",
        call_id=t.state.model_call_id,
        model="m",
        usage=Usage(input_tokens=5),
        error={"type": "BadRequestError", "message": "nope"},
    )
    t = step(t.state, result, ctx())
    assert response(t).status == "failed" and response(t).usage.input_tokens == 15
    assert response(t).cost_usd == pytest.approx(15e-6)


def test_budget_stops_before_the_next_model_call() -> None:
    state = started(max_tokens_total=10)
    t = step(state, model_result(state, tool_use(("a", "calc", {"x": 1})), "tool_use"), ctx())
    t = step(t.state, tool_result("a"), ctx())
    assert response(t).status == "budget_exceeded" and not sent(t, ModelCall)


def test_results_for_finished_conversations_are_late() -> None:
    state = started()
    t = step(state, model_result(state, [{"type": "text", "text": "x"}], "end_turn"), ctx())
    t2 = step(t.state, tool_result("zzz"), ctx())
    assert t2.emits == [] and t2.observations == [ToolCallOutcome("calc", "late")]
