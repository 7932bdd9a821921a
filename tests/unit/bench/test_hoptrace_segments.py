"""The hop tracer's analysis: which marks bound each step of a tool hop."""

from __future__ import annotations

import pytest

from bench.hoptrace.segments import STEPS, Mark, hop_steps, parse, role

MS = 1_000_000


def hop(cid: str, start_ms: int, *, tool: str = "noop") -> list[Mark]:
    """One tool hop's marks, each step taking 1 ms more than the one before."""
    o, w = "orchestrator", "tool-worker"
    kinds = [
        (o, "apply", f"ModelResult {cid}"),
        (o, "send", f"{tool}.calls"),
        (o, "request", "Produce"),
        (w, "response", "Fetch"),
        (w, "process", f"{tool}.calls"),
        (w, "request", "Produce"),
        (o, "response", "Fetch"),
        (o, "yield", "agent.steps 0 7"),
        (o, "apply", f"ToolResult {cid} toolu_1"),
    ]
    at, marks = start_ms * MS, []
    for step, (process, kind, detail) in enumerate(kinds):
        at += step * MS
        marks.append(Mark(at, process, kind, detail))
    return marks


def test_each_step_ends_at_the_next_matching_mark() -> None:
    steps = hop_steps(hop("c1", 0), "noop")
    assert [steps[name] for name in STEPS] == [[i / 1000] for i in range(1, 9)]
    assert steps["hop"] == [sum(range(1, 9)) / 1000]


def test_marks_of_other_processes_and_topics_in_between_are_passed_over() -> None:
    marks = hop("c1", 0)
    noise = [
        Mark(marks[1].ns + 1, "orchestrator", "send", "agent.events"),
        Mark(marks[2].ns + 1, "model-worker", "response", "Fetch"),
        Mark(marks[5].ns + 1, "tool-worker", "request", "OffsetCommit"),
    ]
    steps = hop_steps(sorted(marks + noise, key=lambda m: m.ns), "noop")
    assert steps["broker_to_worker"] == [0.003] and steps["hop"] == [0.036]


def test_a_call_sent_by_a_later_event_is_not_the_model_results_hop() -> None:
    """A model result that dispatched nothing (its call refused), then a tick of the same
    conversation re-sending a call: not a hop from the model result."""
    marks = hop("c1", 0)
    marks.insert(1, Mark(marks[0].ns + 1, "orchestrator", "apply", "Tick c1"))
    assert hop_steps(marks, "noop")["hop"] == []


def test_an_incomplete_hop_is_left_out_and_conversations_can_be_picked() -> None:
    assert hop_steps(hop("c1", 0)[:-1], "noop")["hop"] == []
    both = hop("warm-1", 0) + hop("traced-1", 100)
    assert len(hop_steps(both, "noop", prefix="traced-")["hop"]) == 1


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        ("agentstream-orchestrator worker --loglevel info", "orchestrator"),
        ("/repo/agentstream/cli.py model-worker --metrics-port 1", "model-worker"),
        ("/repo/agentstream/cli.py worker --tool noop", "tool-worker"),
        ("/repo/agentstream/cli.py model-server --port 1", "other"),
    ],
)
def test_processes_are_told_apart_by_their_command_line(command: str, expected: str) -> None:
    assert role(command) == expected


def test_trace_files_are_read_with_their_process() -> None:
    lines = ["# agentstream-orchestrator worker", "5 apply ModelResult c1", "# x", "7 yield"]
    assert parse(lines) == [
        Mark(5, "orchestrator", "apply", "ModelResult c1"),
        Mark(7, "other", "yield", ""),
    ]
