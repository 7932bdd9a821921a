"""Scenario files: built-in scripts through the SDK, lookup rules and tool_choice overrides."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import anthropic
import pytest

from local_model.replies import (
    BUILTIN_DIR,
    Reply,
    Scenario,
    ScenarioLibrary,
    Scripts,
    obey_tool_choice,
)
from local_model.request import ApiError
from tests.unit.local_model.harness import RunningServer, StartServer
from tests.unit.local_model.sample_tools import TOOLS

BUILTIN_NAMES = [
    "always-tool-use",
    "bad-request",
    "overloaded-twice",
    "pause-then-end",
    "stop-context-window",
    "stop-end-turn",
    "stop-max-tokens",
    "stop-refusal",
    "stop-stop-sequence",
    "tool-then-answer",
]


def write(folder: Path, name: str, turns: list[dict[str, Any]], **root: Any) -> None:
    """Save a scenario file."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.json").write_text(json.dumps({"name": name, "turns": turns, **root}))


def opening(name: str, text: str = "hello") -> list[dict[str, Any]]:
    """A first user message selecting scenario `name`."""
    return [{"role": "user", "content": f"[scenario:{name}] {text}"}]


def test_every_builtin_scenario_file_is_valid() -> None:
    library = ScenarioLibrary([])
    assert library.names() == BUILTIN_NAMES
    for name in BUILTIN_NAMES:
        scenario = library.require(name)
        assert isinstance(scenario, Scenario)
        assert scenario.name == name
        assert scenario.turns


@pytest.mark.parametrize(
    ("scenario", "stop_reason", "stop_sequence"),
    [
        ("stop-end-turn", "end_turn", None),
        ("stop-max-tokens", "max_tokens", None),
        ("stop-stop-sequence", "stop_sequence", "###"),
        ("stop-refusal", "refusal", None),
        ("stop-context-window", "model_context_window_exceeded", None),
        ("pause-then-end", "pause_turn", None),
    ],
)
async def test_builtin_stop_reason_scenarios(
    server: RunningServer, scenario: str, stop_reason: str, stop_sequence: str | None
) -> None:
    reply = await server.client().messages.create(
        model="m", max_tokens=100, messages=opening(scenario)
    )
    assert reply.stop_reason == stop_reason
    assert reply.stop_sequence == stop_sequence
    assert reply.content[0].type == "text"
    assert reply.content[0].text
    assert reply.usage.output_tokens >= 1


async def test_pause_turn_is_resumed_by_sending_the_partial_turn_back(
    server: RunningServer,
) -> None:
    client = server.client()
    messages = opening("pause-then-end")
    paused = await client.messages.create(model="m", max_tokens=100, messages=messages)
    assert paused.stop_reason == "pause_turn"
    messages.append({"role": "assistant", "content": [b.model_dump() for b in paused.content]})
    finished = await client.messages.create(model="m", max_tokens=100, messages=messages)
    assert finished.stop_reason == "end_turn"
    assert finished.content[0].text == "Finished after resuming."


async def test_overloaded_twice_succeeds_because_the_sdk_retried(server: RunningServer) -> None:
    reply = await server.client(max_retries=2).messages.create(
        model="m", max_tokens=100, messages=opening("overloaded-twice")
    )
    assert reply.stop_reason == "end_turn"
    assert reply.content[0].text == "Answered after two overloaded attempts."
    assert server.state.stats.requests == 3
    assert server.state.stats.faults == 2


async def test_overloaded_twice_fails_with_too_few_retries(server: RunningServer) -> None:
    with pytest.raises(anthropic.OverloadedError) as raised:
        await server.client(max_retries=1).messages.create(
            model="m", max_tokens=100, messages=opening("overloaded-twice", "other body")
        )
    assert raised.value.body["error"]["type"] == "overloaded_error"
    assert server.state.stats.requests == 2


async def test_bad_request_scenario_is_not_retried(server: RunningServer) -> None:
    with pytest.raises(anthropic.BadRequestError, match="scripted failure 1/1000"):
        await server.client(max_retries=2).messages.create(
            model="m", max_tokens=100, messages=opening("bad-request")
        )
    assert server.state.stats.requests == 1


async def test_always_tool_use_calls_the_first_tool_every_turn(server: RunningServer) -> None:
    client = server.client()
    messages = opening("always-tool-use", "weather in Oslo")
    seen_ids: set[str] = set()
    for _ in range(4):
        reply = await client.messages.create(
            model="m", max_tokens=100, tools=TOOLS, messages=messages
        )
        assert reply.stop_reason == "tool_use"
        [use] = reply.content
        assert use.type == "tool_use"
        assert use.name == "get_weather"
        # The first input comes from the prompt, later ones from the latest tool result.
        assert use.input == ({"city": "cold"} if seen_ids else {"city": "Oslo"})
        seen_ids.add(use.id)
        messages.append({"role": "assistant", "content": [use.model_dump()]})
        messages.append(
            {
                "role": "user",
                "content": [{"type": "tool_result", "tool_use_id": use.id, "content": "cold"}],
            }
        )
    assert len(seen_ids) == 4


async def test_tool_then_answer_defers_the_second_turn_to_the_policy(
    server: RunningServer,
) -> None:
    client = server.client()
    messages = opening("tool-then-answer", "compute 2 + 2")
    call = await client.messages.create(model="m", max_tokens=100, tools=TOOLS, messages=messages)
    [use] = call.content
    assert use.name == "get_weather"
    messages += [
        {"role": "assistant", "content": [use.model_dump()]},
        {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": use.id, "content": "4"}],
        },
    ]
    answer = await client.messages.create(model="m", max_tokens=100, tools=TOOLS, messages=messages)
    assert answer.stop_reason == "end_turn"
    assert answer.content[0].text.startswith("Results: get_weather(")


async def test_unknown_scenario_lists_the_known_ones(server: RunningServer) -> None:
    with pytest.raises(anthropic.BadRequestError) as raised:
        await server.client().messages.create(
            model="m", max_tokens=100, messages=opening("no-such-thing")
        )
    assert "unknown scenario 'no-such-thing'" in raised.value.message
    assert "stop-end-turn" in raised.value.message


async def test_tool_choice_none_overrides_a_scripted_tool_use(server: RunningServer) -> None:
    reply = await server.client().messages.create(
        model="m",
        max_tokens=100,
        tools=TOOLS,
        tool_choice={"type": "none"},
        messages=opening("always-tool-use", "weather in Oslo"),
    )
    assert reply.stop_reason == "end_turn"
    assert [block.type for block in reply.content] == ["text"]


async def test_forced_tool_overrides_a_script_that_lacks_it(server: RunningServer) -> None:
    reply = await server.client().messages.create(
        model="m",
        max_tokens=100,
        tools=TOOLS,
        tool_choice={"type": "tool", "name": "calculator"},
        messages=opening("stop-end-turn", "what is 3 * 3"),
    )
    assert reply.stop_reason == "tool_use"
    assert [(b.name, b.input) for b in reply.content] == [("calculator", {"expression": "3 * 3"})]


async def test_custom_scenario_dir_usage_override_and_ids(
    start: StartServer, tmp_path: Path
) -> None:
    write(
        tmp_path,
        "two-calls",
        [
            {
                "content": [
                    {"type": "text", "text": "Calling."},
                    {"type": "tool_use", "name": "calculator", "input": {"expression": "1"}},
                    {"type": "tool_use", "id": "toolu_fixed", "name": "calculator", "input": {}},
                ],
                "stop_reason": "tool_use",
                "usage": {"input_tokens": 1234, "output_tokens": 56},
            }
        ],
    )
    running = await start(scenario_dirs=[tmp_path])
    client = running.client()
    reply = await client.messages.create(
        model="m", max_tokens=10, tools=TOOLS, messages=opening("two-calls")
    )
    assert [block.type for block in reply.content] == ["text", "tool_use", "tool_use"]
    assert reply.content[1].id.startswith("toolu_")
    assert reply.content[2].id == "toolu_fixed"
    assert reply.usage.input_tokens == 1234
    assert reply.usage.output_tokens == 56
    assert reply.usage.cache_read_input_tokens == 0

    single = await client.messages.create(
        model="m",
        max_tokens=10,
        tools=TOOLS,
        tool_choice={"type": "auto", "disable_parallel_tool_use": True},
        messages=opening("two-calls"),
    )
    assert [block.type for block in single.content] == ["text", "tool_use"]


def test_builtin_scenarios_win_over_extra_dirs(tmp_path: Path) -> None:
    write(tmp_path, "stop-end-turn", [{"content": [], "stop_reason": "refusal"}])
    write(tmp_path, "mine", [{"policy": True}])
    library = ScenarioLibrary([tmp_path])
    assert library.require("stop-end-turn").turns[0].stop_reason == "end_turn"
    assert library.require("mine").turns[0].policy
    assert "mine" in library.names()


def test_invalid_scenario_file_is_a_clear_400(tmp_path: Path) -> None:
    write(tmp_path, "broken", [{"stop_reason": "end_turn", "unknown_field": 1}])
    with pytest.raises(ApiError) as raised:
        ScenarioLibrary([tmp_path]).require("broken")
    assert raised.value.status == 400
    assert "broken.json is invalid" in raised.value.message


def test_repeat_last_and_turns_beyond_the_script() -> None:
    turns = [{"content": []}, {"content": [], "stop_reason": "refusal"}]
    repeating = Scenario.model_validate({"name": "r", "turns": turns, "repeat_last": True})
    finite = Scenario.model_validate({"name": "f", "turns": turns})
    assert repeating.turn(5) is not None
    assert repeating.turn(5).stop_reason == "refusal"
    assert finite.turn(1) is not None
    assert finite.turn(2) is None


def test_scripted_failures_are_counted_per_request_body(tmp_path: Path) -> None:
    write(tmp_path, "flaky", [{"fail": {"status": 503, "times": 1}, "content": []}])
    scripts = Scripts(ScenarioLibrary([tmp_path]))
    body = {"max_tokens": 5, "messages": opening("flaky")}
    for key in ("body-a", "body-b"):
        with pytest.raises(ApiError) as raised:
            scripts.reply(body, key)
        assert raised.value.status == 503
        assert raised.value.injected
        assert scripts.reply(body, key).content == []


def test_scripted_turns_beyond_the_list_use_the_policy() -> None:
    scripts = Scripts(ScenarioLibrary([]))
    messages = [
        *opening("stop-end-turn", "weather in Oslo"),
        {"role": "assistant", "content": "All done."},
        {"role": "user", "content": "weather in Lima"},
    ]
    reply = scripts.reply({"max_tokens": 50, "tools": TOOLS, "messages": messages}, "k")
    assert reply.generated
    assert reply.content == [{"type": "tool_use", "name": "get_weather", "input": {"city": "Lima"}}]


@pytest.mark.parametrize(
    ("tool_choice", "expected"),
    [
        ({"type": "auto"}, ["a", "b"]),
        ({"type": "auto", "disable_parallel_tool_use": True}, ["a"]),
        ({"type": "any"}, ["a", "b"]),
        ({"type": "tool", "name": "calculator"}, ["a", "b"]),
        ({"type": "tool", "name": "search_docs"}, ["search_docs"]),
        ({"type": "none"}, []),
    ],
)
def test_scripted_reply_obeys_tool_choice(tool_choice: dict[str, Any], expected: list[str]) -> None:
    scripted = Reply(
        content=[
            {"type": "tool_use", "id": "toolu_a", "name": "calculator", "input": {}},
            {"type": "tool_use", "id": "toolu_b", "name": "calculator", "input": {}},
        ],
        stop_reason="tool_use",
        generated=False,
    )
    body = {
        "max_tokens": 5,
        "tools": TOOLS,
        "tool_choice": tool_choice,
        "messages": [{"role": "user", "content": "search docs for lag"}],
    }
    reply = obey_tool_choice(scripted, body)
    uses = [b for b in reply.content if b["type"] == "tool_use"]
    labels = [b.get("id", b["name"]).removeprefix("toolu_") for b in uses]
    assert labels == expected
    assert reply.stop_reason == ("tool_use" if expected else "end_turn")


def test_builtin_dir_ships_with_the_package() -> None:
    assert BUILTIN_DIR.is_dir()
    assert sorted(path.stem for path in BUILTIN_DIR.glob("*.json")) == BUILTIN_NAMES
