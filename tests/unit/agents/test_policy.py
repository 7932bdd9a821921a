"""Per-request limits and the tool_choice of each model call."""

from __future__ import annotations

from typing import Any

import pytest

from agents.policy import Defaults, Limits, tool_choice_for
from agents.structured_output import OUTPUT_TOOL
from topics.messages import RequestOptions

DEFAULTS = Defaults(model="m", max_iterations=4, max_tool_calls_per_turn=3)
SCHEMA = {"type": "object", "properties": {"a": {"type": "string"}}}


def choice(iteration: int, has_tools: bool = True, **options: Any) -> dict[str, Any] | None:
    request = RequestOptions(**options)
    return tool_choice_for(request, iteration, Limits.of(request, DEFAULTS), has_tools)


def test_a_request_tightens_or_loosens_the_defaults() -> None:
    limits = Limits.of(RequestOptions(max_iterations=9, timeout_s=5), DEFAULTS)
    assert (limits.max_iterations, limits.max_tool_calls_per_turn, limits.timeout_s) == (
        9,
        3,
        5,
    )


def test_no_tools_and_no_schema_sends_no_tool_choice() -> None:
    assert choice(1, has_tools=False) is None


def test_the_request_choice_passes_through_with_parallel_use_disabled_on_demand() -> None:
    assert choice(1, tools=["x"]) == {"type": "auto"}
    assert choice(1, tools=["x"], disable_parallel_tool_use=True) == {
        "type": "auto",
        "disable_parallel_tool_use": True,
    }


def test_final_turn_none_answers_in_text_on_the_last_allowed_turn() -> None:
    assert choice(3, tools=["x"], final_turn_none=True) == {"type": "auto"}
    assert choice(4, tools=["x"], final_turn_none=True) == {"type": "none"}


@pytest.mark.parametrize(
    ("iteration", "tools", "expected"),
    [
        (1, ["x"], {"type": "any"}),  # gather first, any tool including the output one
        (4, ["x"], {"type": "tool", "name": OUTPUT_TOOL}),  # last turn: the output, now
        (1, [], {"type": "tool", "name": OUTPUT_TOOL}),  # nothing to gather with
    ],
)
def test_structured_output_forces_the_output_tool_when_nothing_else_remains(
    iteration: int, tools: list[str], expected: dict[str, Any]
) -> None:
    assert choice(iteration, tools=tools, output_schema=SCHEMA) == expected
