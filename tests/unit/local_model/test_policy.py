"""The deterministic policy: tool matching, argument extraction and tool_choice."""

from __future__ import annotations

from typing import Any

import jsonschema_rs
import pytest

from local_model.policy import decide
from tests.unit.local_model.sample_tools import CALCULATOR, SEARCH, TOOLS, WEATHER


def ask(prompt: str, tools: list[dict[str, Any]] | None = None, **extra: Any) -> dict[str, Any]:
    """A single-turn request body."""
    body: dict[str, Any] = {
        "model": "m",
        "max_tokens": 100,
        "messages": [{"role": "user", "content": prompt}],
        "tools": TOOLS if tools is None else tools,
    }
    return {**body, **extra}


def calls(body: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(name, input) of each tool_use the policy emits."""
    return [(b["name"], b["input"]) for b in decide(body).content if b["type"] == "tool_use"]


def follow_up(results: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    """A request answering two parallel calls with the given tool_result blocks."""
    assistant = [
        {"type": "tool_use", "id": "toolu_a", "name": "get_weather", "input": {"city": "Oslo"}},
        {"type": "tool_use", "id": "toolu_b", "name": "calculator", "input": {"expression": "6*7"}},
    ]
    messages = [
        {"role": "user", "content": "weather in Oslo and compute 6*7"},
        {"role": "assistant", "content": assistant},
        {"role": "user", "content": results},
    ]
    return {"model": "m", "max_tokens": 100, "messages": messages, "tools": TOOLS, **extra}


OK_RESULTS = [
    {"type": "tool_result", "tool_use_id": "toolu_a", "content": "Rain, 7 degrees"},
    {"type": "tool_result", "tool_use_id": "toolu_b", "content": [{"type": "text", "text": "42"}]},
]


@pytest.mark.parametrize(
    ("prompt", "expected"),
    [
        ("What's the weather in Paris?", ["get_weather"]),
        ("Please calculate 12 * (3 + 4)", ["calculator"]),
        ("what is 2 + 3", ["calculator"]),
        ("Search the docs for consumer groups", ["search_docs"]),
        ("Find documentation pages about retries", ["search_docs"]),
        ("Tell me a joke", []),
        ("Hello there", []),
    ],
)
def test_picks_the_tool_whose_words_overlap_the_request(prompt: str, expected: list[str]) -> None:
    assert [name for name, _ in calls(ask(prompt))] == expected


def test_unmatched_request_gets_a_text_answer() -> None:
    decision = decide(ask("Tell me a joke"))
    assert decision.stop_reason == "end_turn"
    assert decision.content == [{"type": "text", "text": "Answer: Tell me a joke"}]


def test_each_matching_clause_becomes_a_parallel_call_in_order() -> None:
    decision = decide(ask("Search the docs for offsets, then weather in Rome and calculate 2 * 21"))
    assert decision.stop_reason == "tool_use"
    assert [(b["name"], b["input"]) for b in decision.content] == [
        ("search_docs", {"query": "offsets"}),
        ("get_weather", {"city": "Rome"}),
        ("calculator", {"expression": "2 * 21"}),
    ]
    assert all("id" not in block for block in decision.content)


def test_same_tool_may_be_called_once_per_clause() -> None:
    assert calls(ask("weather in Oslo and weather in Lima")) == [
        ("get_weather", {"city": "Oslo"}),
        ("get_weather", {"city": "Lima"}),
    ]


NUMERIC_TOOL: dict[str, Any] = {
    "name": "set_thermostat",
    "description": "Set the thermostat target",
    "input_schema": {
        "type": "object",
        "properties": {
            "room": {"type": "string"},
            "celsius": {"type": "number"},
            "fan_speed": {"type": "integer", "minimum": 0, "maximum": 5},
            "mode": {"type": "string", "enum": ["heat", "cool", "auto"]},
            "eco": {"type": "boolean"},
            "tags": {"type": "array", "items": {"type": "string"}},
            "schedule": {
                "type": "object",
                "properties": {"hour": {"type": "integer"}, "label": {"type": "string"}},
                "required": ["hour", "label"],
            },
            "note": {"type": "string"},
            "repeat": {"type": "integer"},
        },
        "required": ["room", "celsius", "fan_speed", "mode", "eco", "tags", "schedule"],
    },
}


@pytest.mark.parametrize(
    ("prompt", "expected"),
    [
        (
            "set the thermostat in kitchen to 21.5 fan 9 cool at 7",
            {
                "room": "kitchen 21.5 fan 9 cool 7",
                "celsius": 21.5,
                "fan_speed": 5,
                "mode": "cool",
                "eco": False,
                "tags": ["kitchen 21.5 fan 9 cool 7"],
                "schedule": {"hour": 7, "label": "kitchen 21.5 fan 9 cool 7"},
            },
        ),
        (
            "set the thermostat in hall to 19 fan -2 at 6 repeat 3",
            {
                "room": "hall 19 fan -2 6 repeat 3",
                "celsius": 19,
                "fan_speed": 0,
                "mode": "heat",
                "eco": False,
                "tags": ["hall 19 fan -2 6 repeat 3"],
                "schedule": {"hour": 6, "label": "hall 19 fan -2 6 repeat 3"},
                "repeat": 3,
            },
        ),
        (
            "thermostat",
            {
                "room": "thermostat",
                "celsius": 0,
                "fan_speed": 0,
                "mode": "heat",
                "eco": False,
                "tags": ["thermostat"],
                "schedule": {"hour": 0, "label": "thermostat"},
            },
        ),
    ],
)
def test_arguments_follow_the_schema(prompt: str, expected: dict[str, Any]) -> None:
    [(name, tool_input)] = calls(ask(prompt, [NUMERIC_TOOL]))
    assert name == "set_thermostat"
    assert tool_input == expected
    jsonschema_rs.validate(NUMERIC_TOOL["input_schema"], tool_input)


@pytest.mark.parametrize(
    ("prompt", "expected"),
    [
        ("weather in Paris in fahrenheit for 3 days", {"city": "Paris fahrenheit 3 days"}),
        ("weather in Paris", {"city": "Paris"}),
        ("calculate (1.5 + 2) ^ 2 % 7 please", {"expression": "(1.5 + 2) ^ 2 % 7"}),
        ("search docs", {"query": "search docs"}),
    ],
)
def test_string_arguments_drop_tool_words_and_stop_words(
    prompt: str, expected: dict[str, Any]
) -> None:
    [(_, tool_input)] = calls(ask(prompt))
    assert {key: tool_input[key] for key in expected} == expected


def test_optional_properties_filled_only_when_the_clause_has_them() -> None:
    [(_, with_values)] = calls(ask("weather in Paris in fahrenheit for 3 days"))
    assert with_values["unit"] == "fahrenheit"
    assert with_values["days"] == 3
    [(_, without)] = calls(ask("weather in Paris"))
    assert without == {"city": "Paris"}


def test_tool_choice_none_answers_in_text() -> None:
    decision = decide(ask("weather in Paris", tool_choice={"type": "none"}))
    assert decision.stop_reason == "end_turn"
    assert [block["type"] for block in decision.content] == ["text"]


def test_tool_choice_none_with_results_summarises_them() -> None:
    decision = decide(follow_up(OK_RESULTS, tool_choice={"type": "none"}))
    assert decision.stop_reason == "end_turn"
    assert decision.content[0]["text"].startswith("Results: get_weather(city=Oslo)")


@pytest.mark.parametrize(
    ("prompt", "expected"),
    [
        ("Tell me a joke", "get_weather"),
        ("something about pages", "search_docs"),
        ("weather in Paris and compute 1 + 1", "get_weather"),
    ],
)
def test_tool_choice_any_always_calls_a_tool(prompt: str, expected: str) -> None:
    decision = decide(ask(prompt, tool_choice={"type": "any"}))
    assert decision.stop_reason == "tool_use"
    assert decision.content[0]["name"] == expected


def test_tool_choice_any_keeps_parallel_calls() -> None:
    body = ask("weather in Paris and compute 1 + 1", tool_choice={"type": "any"})
    assert [name for name, _ in calls(body)] == ["get_weather", "calculator"]


@pytest.mark.parametrize("prompt", ["weather in Paris and compute 1 + 1", "Tell me a joke"])
def test_forced_tool_is_called_exactly_once(prompt: str) -> None:
    body = ask(prompt, tool_choice={"type": "tool", "name": "search_docs"})
    decision = decide(body)
    assert decision.stop_reason == "tool_use"
    assert [(b["type"], b["name"]) for b in decision.content] == [("tool_use", "search_docs")]


@pytest.mark.parametrize(
    "tool_choice",
    [
        {"type": "auto", "disable_parallel_tool_use": True},
        {"type": "any", "disable_parallel_tool_use": True},
    ],
)
def test_disable_parallel_tool_use_keeps_only_the_first_call(tool_choice: dict[str, Any]) -> None:
    body = ask("weather in Paris and compute 1 + 1", tool_choice=tool_choice)
    assert [name for name, _ in calls(body)] == ["get_weather"]


def test_parallel_calls_without_the_flag() -> None:
    body = ask("weather in Paris and compute 1 + 1", tool_choice={"type": "auto"})
    assert len(calls(body)) == 2


def test_tool_results_are_answered_in_text_naming_each_call() -> None:
    decision = decide(follow_up(OK_RESULTS))
    assert decision.stop_reason == "end_turn"
    assert decision.content == [
        {
            "type": "text",
            "text": "Results: get_weather(city=Oslo) = Rain, 7 degrees; "
            "calculator(expression=6*7) = 42",
        }
    ]


def test_failed_tool_results_are_reported_as_failures() -> None:
    results = [
        {"type": "tool_result", "tool_use_id": "toolu_a", "content": "timeout", "is_error": True},
        {"type": "tool_result", "tool_use_id": "toolu_b", "content": "42"},
    ]
    text = decide(follow_up(results)).content[0]["text"]
    assert "get_weather(city=Oslo) failed: timeout" in text
    assert "calculator(expression=6*7) = 42" in text


REPORT: dict[str, Any] = {
    "name": "final_report",
    "description": "Structured final answer",
    "input_schema": {
        "type": "object",
        "properties": {
            "summary": {"type": "string", "minLength": 1},
            "temperature": {"type": "number"},
            "answer": {"type": "integer"},
            "confidence": {"type": "string", "enum": ["low", "high"]},
            "sources": {"type": "array", "items": {"type": "string"}, "minItems": 1},
            "details": {
                "type": "object",
                "properties": {"ok": {"type": "boolean"}, "count": {"type": "integer"}},
                "required": ["ok", "count"],
                "additionalProperties": False,
            },
            "extra": {"type": ["string", "null"]},
        },
        "required": ["summary", "temperature", "answer", "confidence", "sources", "details"],
        "additionalProperties": False,
    },
}


def test_forced_structured_tool_after_results_gets_schema_valid_input() -> None:
    body = follow_up(OK_RESULTS, tools=[*TOOLS, REPORT])
    body["tool_choice"] = {"type": "tool", "name": "final_report"}
    decision = decide(body)
    assert decision.stop_reason == "tool_use"
    [block] = decision.content
    assert block["name"] == "final_report"
    jsonschema_rs.validate(REPORT["input_schema"], block["input"])
    assert block["input"]["temperature"] == 7
    assert block["input"]["answer"] == 42
    assert "Rain" in block["input"]["summary"]


def test_system_prompt_does_not_change_the_decision() -> None:
    plain = ask("weather in Paris and compute 1 + 1")
    with_system = {**plain, "system": [{"type": "text", "text": "calculate everything"}]}
    assert decide(plain) == decide(with_system)


def test_decisions_are_deterministic() -> None:
    body = ask("Search the docs for lag, then weather in Rome and calculate 2 * 21")
    assert decide(body) == decide(body)


def test_scenario_token_is_not_part_of_the_prompt() -> None:
    assert calls(ask("[scenario:anything] weather in Oslo")) == [("get_weather", {"city": "Oslo"})]


def test_no_tools_means_text() -> None:
    decision = decide(ask("calculate 1 + 1", tools=[]))
    assert decision.stop_reason == "end_turn"
    assert decision.content[0]["text"] == "Answer: calculate 1 + 1"


def test_unrelated_tools_do_not_match_on_stop_words() -> None:
    assert calls(ask("what is it", [CALCULATOR, SEARCH, WEATHER])) == []
