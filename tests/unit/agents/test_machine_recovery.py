"""Re-driving calls whose lease ran out, and forgetting finished conversations."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from agents.machine import Context, step
from agents.state import ConversationState, FinishedConversation, load_stored
from monitoring.observations import CallRedriven, ToolCallOutcome
from tests.support.conversations import (
    DEFAULTS,
    model_result,
    request,
    sent,
    tool_result,
    tool_use,
)
from tests.support.conversations import ctx as make_ctx
from topics.messages import AgentEvent, AgentResponse, ModelCall, Tick, ToolCall

LEASE = 2.0
"""Shorter than the test tools' timeouts (calc: 5 s), so leases run out before deadlines."""
START = 1000.0


def ctx(now: float = START) -> Context:
    return make_ctx(now, call_lease_s=LEASE)


def started(**kw: Any) -> ConversationState:
    t = step(None, request(**kw), ctx())
    assert isinstance(t.state, ConversationState)
    return t.state


def tick(now: float) -> Tick:
    return Tick(conversation_id="c1", at=now)


def _dispatched_two() -> ConversationState:
    state = started()
    t = step(
        state,
        model_result(state, tool_use(("a", "calc", {"x": 1}), ("b", "calc", {"x": 2})), "tool_use"),
        ctx(),
    )
    assert isinstance(t.state, ConversationState)
    return t.state


def test_a_model_call_without_a_result_is_published_again_under_its_id() -> None:
    state = started()
    (first,) = sent(step(None, request(), ctx()), ModelCall)
    assert state.next_deadline() == START + LEASE
    early = step(state, tick(START + LEASE - 0.1), ctx(START + LEASE - 0.1))
    assert not sent(early, ModelCall)
    t = step(state, tick(START + LEASE), ctx(START + LEASE))
    (again,) = sent(t, ModelCall)
    assert again.call_id == first.call_id and again.params == first.params
    assert [e.type for e in sent(t, AgentEvent)] == ["call_redriven"]
    assert t.observations == [CallRedriven("model")]
    assert isinstance(t.state, ConversationState)
    assert t.state.next_deadline() == START + 3 * LEASE, "the lease is renewed, doubled"
    third = step(t.state, tick(START + 3 * LEASE), ctx(START + 3 * LEASE))
    assert sent(third, ModelCall) and third.state.next_deadline() == START + 7 * LEASE  # type: ignore[union-attr]


def test_only_the_calls_still_waiting_are_published_again() -> None:
    state = _dispatched_two()
    answered = step(state, tool_result("a"), ctx(START + 1))
    assert isinstance(answered.state, ConversationState)
    t = step(answered.state, tick(START + LEASE), ctx(START + LEASE))
    (again,) = sent(t, ToolCall)
    assert again.tool_use_id == "b" and again.input == {"x": 2}
    assert again.dispatched_at == START, "a re-drive keeps the original dispatch time"
    assert next(c for c in t.state.calls if c.tool_use_id == "b").sends == 2  # type: ignore[union-attr]


def test_a_result_that_arrives_twice_after_a_re_drive_is_applied_once() -> None:
    state = _dispatched_two()
    redriven = step(state, tick(START + LEASE), ctx(START + LEASE)).state
    once = step(redriven, tool_result("a", content="first"), ctx(START + LEASE + 1))
    twice = step(once.state, tool_result("a", content="second"), ctx(START + LEASE + 2))
    assert twice.observations == [ToolCallOutcome("calc", "duplicate")]
    assert twice.state == once.state


def test_a_call_whose_deadline_comes_first_times_out_instead() -> None:
    state = started(tools=["slow"])  # slow's timeout (1 s) is shorter than the lease (2 s)
    t = step(state, model_result(state, tool_use(("s", "slow", {"x": 1})), "tool_use"), ctx())
    assert isinstance(t.state, ConversationState)
    assert t.state.calls[0].lease_until is None
    late = step(t.state, tick(START + 1), ctx(START + 1))
    assert not sent(late, ToolCall)
    assert late.observations == [ToolCallOutcome("slow", "timeout")]


def test_a_finished_conversation_is_kept_small_until_it_is_forgotten() -> None:
    state = started()
    done = step(state, model_result(state, [{"type": "text", "text": "x"}], "end_turn"), ctx())
    finished = done.state
    assert isinstance(finished, FinishedConversation)
    assert finished.status == "completed"
    assert finished.forget_at == START + DEFAULTS.finished_retention_s
    assert load_stored(finished.model_dump_json().encode()) == finished
    assert len(finished.model_dump_json()) < 200
    kept = step(finished, tick(finished.forget_at - 1), ctx(finished.forget_at - 1))
    assert kept.state is finished and not kept.forget
    gone = step(finished, tick(finished.forget_at), ctx(finished.forget_at))
    assert gone.state is None and gone.forget and not gone.emits


def test_once_forgotten_the_id_starts_a_new_conversation() -> None:
    later = START + DEFAULTS.finished_retention_s + 1
    t = step(None, request(), ctx(later))
    assert isinstance(t.state, ConversationState) and sent(t, ModelCall)
    assert not sent(t, AgentResponse)


def test_stored_states_of_both_kinds_round_trip() -> None:
    running = _dispatched_two()
    assert load_stored(running.model_dump_json().encode()) == running


def test_a_request_read_again_after_a_crash_keeps_the_time_it_was_published() -> None:
    """States are stored at commits, so a crash can lose a whole conversation that was
    answered meanwhile; its request is then read again and starts a new state. The
    answer given before the crash was given after the request's record was published, so
    the new state's `answers_since` still covers it (else a second answer would go out)."""
    published = START - 0.2
    first = step(None, request(), replace(ctx(), published_at=published)).state
    again = step(None, request(), replace(ctx(START + 30.0), published_at=published)).state
    assert isinstance(first, ConversationState) and isinstance(again, ConversationState)
    assert again.started_at == START + 30.0  # deadlines still run from when it is processed
    assert first.answers_since == again.answers_since == published
    answered_before_the_crash = START + 0.05
    assert again.answers_since <= answered_before_the_crash < again.started_at


def test_without_a_known_publication_time_answers_count_from_the_start() -> None:
    state = step(None, request(), ctx()).state
    assert isinstance(state, ConversationState)
    assert state.requested_at is None and state.answers_since == START
    # A client clock ahead of ours never moves the window later than the start.
    ahead = step(None, request(), replace(ctx(), published_at=START + 60.0)).state
    assert isinstance(ahead, ConversationState) and ahead.answers_since == START
