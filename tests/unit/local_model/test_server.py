"""The server through the real SDK: round trips, faults, usage, limits and streaming."""

from __future__ import annotations

import asyncio
import json
import math
import socket
import time
from typing import Any

import aiohttp
import anthropic
import pytest

from config.settings import DEFAULT_MODEL, get_settings
from local_model.server import FaultInjector, serve
from local_model.settings import ModelServerConfig, parse_args
from tests.unit.local_model.harness import RunningServer, StartServer
from tests.unit.local_model.sample_tools import TOOLS


async def test_tool_use_round_trip_then_answer(server: RunningServer) -> None:
    client = server.client()
    history: list[dict[str, Any]] = [
        {"role": "user", "content": "What's the weather in Paris and calculate 6 * 7?"}
    ]
    first = await client.messages.create(
        model="claude-test", max_tokens=200, tools=TOOLS, messages=history
    )
    assert first.stop_reason == "tool_use"
    assert first.model == "claude-test"
    assert first.id.startswith("msg_")
    uses = [block for block in first.content if block.type == "tool_use"]
    assert [(u.name, u.input) for u in uses] == [
        ("get_weather", {"city": "Paris"}),
        ("calculator", {"expression": "6 * 7"}),
    ]
    assert all(u.id.startswith("toolu_") and len(u.id) == len("toolu_") + 24 for u in uses)
    assert len({u.id for u in uses}) == 2

    history.append({"role": "assistant", "content": [b.model_dump() for b in first.content]})
    history.append(
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": uses[0].id, "content": "Sunny, 24C"},
                {"type": "tool_result", "tool_use_id": uses[1].id, "content": "42"},
            ],
        }
    )
    second = await client.messages.create(
        model="claude-test", max_tokens=200, tools=TOOLS, messages=history
    )
    assert second.stop_reason == "end_turn"
    assert second.content[0].type == "text"
    assert second.content[0].text == (
        "Results: get_weather(city=Paris) = Sunny, 24C; calculator(expression=6 * 7) = 42"
    )
    assert server.state.stats.requests == 2


async def test_model_name_falls_back_to_config_when_request_names_none(
    start: StartServer,
) -> None:
    running = await start(model_name="local-default")
    payload = {"max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]}
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{running.base_url}/v1/messages", json=payload) as response,
    ):
        assert response.status == 200
        message = await response.json()
    assert message["model"] == "local-default"
    assert message["type"] == "message"
    assert message["role"] == "assistant"
    assert set(message["usage"]) == {
        "input_tokens",
        "output_tokens",
        "cache_creation_input_tokens",
        "cache_read_input_tokens",
    }


async def test_fault_rate_one_with_500_and_no_retries_raises(start: StartServer) -> None:
    running = await start(fault_rate=1.0, fault_statuses=[500])
    with pytest.raises(anthropic.InternalServerError) as raised:
        await running.client(max_retries=0).messages.create(
            model="m", max_tokens=10, messages=[{"role": "user", "content": "hi"}]
        )
    assert raised.value.status_code == 500
    assert raised.value.body["error"]["type"] == "api_error"
    assert raised.value.response.headers["retry-after-ms"] == "10"
    assert running.state.stats.requests == 1
    assert running.state.stats.faults == 1


async def test_sdk_retries_injected_faults_until_it_gives_up(start: StartServer) -> None:
    running = await start(fault_rate=1.0, fault_statuses=[429])
    with pytest.raises(anthropic.RateLimitError) as raised:
        await running.client(max_retries=2).messages.create(
            model="m", max_tokens=10, messages=[{"role": "user", "content": "hi"}]
        )
    assert raised.value.body["error"]["type"] == "rate_limit_error"
    assert raised.value.response.headers["retry-after"] == "0"
    assert running.state.stats.requests == 3


def test_fault_sequence_is_seeded_and_mixed() -> None:
    config = ModelServerConfig(fault_rate=0.5, fault_statuses=[500, 529], seed=7)
    injector_a, injector_b = FaultInjector(config), FaultInjector(config)
    run_a = [injector_a.next_fault() for _ in range(200)]
    run_b = [injector_b.next_fault() for _ in range(200)]
    assert run_a == run_b
    assert {None, 500, 529} == set(run_a)
    other = FaultInjector(config.model_copy(update={"seed": 8}))
    assert [other.next_fault() for _ in range(200)] != run_a


def test_fault_statuses_must_be_error_codes() -> None:
    with pytest.raises(ValueError, match="400-599"):
        ModelServerConfig(fault_statuses=[200])


async def test_usage_is_realistic(server: RunningServer) -> None:
    messages = [{"role": "user", "content": "Tell me about stream processing " * 20}]
    reply = await server.client().messages.create(
        model="m", max_tokens=1000, system="Be concise.", messages=messages
    )
    prompt_chars = len(json.dumps(messages)) + len("Be concise.")
    assert abs(reply.usage.input_tokens - prompt_chars / 4) < 0.2 * prompt_chars / 4
    content = [block.model_dump(exclude_none=True) for block in reply.content]
    content_json = json.dumps(content, separators=(",", ":"), sort_keys=True)
    assert reply.usage.output_tokens == math.ceil(len(content_json) / 4)
    assert reply.usage.cache_creation_input_tokens == 0
    assert reply.usage.cache_read_input_tokens == 0
    counted = await server.client().messages.count_tokens(
        model="m", system="Be concise.", messages=messages
    )
    assert counted.input_tokens == reply.usage.input_tokens


async def test_cache_creation_then_cache_read_on_repeated_prefix(server: RunningServer) -> None:
    client = server.client()
    system = [
        {
            "type": "text",
            "text": "You are a careful assistant. " * 50,
            "cache_control": {"type": "ephemeral"},
        }
    ]

    async def ask(question: str, system_blocks: list[dict[str, Any]]) -> anthropic.types.Usage:
        reply = await client.messages.create(
            model="m",
            max_tokens=100,
            system=system_blocks,
            messages=[{"role": "user", "content": question}],
        )
        return reply.usage

    plain = await ask(
        "first question", [{k: v for k, v in system[0].items() if k != "cache_control"}]
    )
    first = await ask("first question", system)
    second = await ask("a different, longer second question", system)
    assert first.cache_creation_input_tokens > 300
    assert first.cache_read_input_tokens == 0
    assert first.input_tokens + first.cache_creation_input_tokens == plain.input_tokens
    assert second.cache_creation_input_tokens == 0
    assert second.cache_read_input_tokens == first.cache_creation_input_tokens
    assert 0 < second.input_tokens < 30

    changed = [{**system[0], "text": "Another prefix entirely. " * 50}]
    third = await ask("first question", changed)
    assert third.cache_creation_input_tokens > 300
    assert third.cache_read_input_tokens == 0


async def test_long_answers_are_truncated_at_max_tokens(server: RunningServer) -> None:
    reply = await server.client().messages.create(
        model="m", max_tokens=5, messages=[{"role": "user", "content": "x" * 200}]
    )
    assert reply.stop_reason == "max_tokens"
    assert reply.content[0].text == "Answer: " + "x" * 12
    assert len(reply.content[0].text) == 5 * 4


async def test_stop_sequences_cut_the_answer(server: RunningServer) -> None:
    reply = await server.client().messages.create(
        model="m",
        max_tokens=100,
        stop_sequences=["never", "STOP"],
        messages=[{"role": "user", "content": "alpha STOP beta"}],
    )
    assert reply.stop_reason == "stop_sequence"
    assert reply.stop_sequence == "STOP"
    assert reply.content[0].text == "Answer: alpha "


async def test_streaming_accumulates_to_the_same_message(server: RunningServer) -> None:
    client = server.client()
    request: dict[str, Any] = {
        "model": "m",
        "max_tokens": 100,
        "tools": TOOLS,
        "messages": [{"role": "user", "content": "weather in Rome and calculate 1 + 2"}],
    }
    async with client.messages.stream(**request) as stream:
        streamed = await stream.get_final_message()
    plain = await client.messages.create(**request)
    assert streamed.stop_reason == plain.stop_reason == "tool_use"
    assert [(b.name, b.input) for b in streamed.content] == [
        (b.name, b.input) for b in plain.content
    ]
    assert streamed.usage.output_tokens == plain.usage.output_tokens


async def test_healthz(server: RunningServer) -> None:
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{server.base_url}/healthz") as response,
    ):
        assert response.status == 200
        assert await response.text() == "ok"


async def test_unknown_route_is_an_anthropic_404(server: RunningServer) -> None:
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{server.base_url}/v1/nothing", json={}) as response,
    ):
        assert response.status == 404
        assert (await response.json())["error"]["type"] == "not_found_error"


async def test_latency_is_added_to_each_response(start: StartServer) -> None:
    running = await start(latency_s=0.2)
    began = time.monotonic()
    await running.client().messages.create(
        model="m", max_tokens=10, messages=[{"role": "user", "content": "hi"}]
    )
    assert time.monotonic() - began >= 0.2


async def test_serve_sets_ready_and_stops_when_cancelled() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    ready = asyncio.Event()
    task = asyncio.create_task(serve("127.0.0.1", port, ModelServerConfig(), ready))
    await asyncio.wait_for(ready.wait(), timeout=10)
    async with anthropic.AsyncAnthropic(
        base_url=f"http://127.0.0.1:{port}", api_key="k", max_retries=0
    ) as client:
        reply = await client.messages.create(
            model="m", max_tokens=10, messages=[{"role": "user", "content": "hi"}]
        )
        assert reply.content[0].text == "Answer: hi"
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        with pytest.raises(anthropic.APIConnectionError):
            await client.messages.create(
                model="m", max_tokens=10, messages=[{"role": "user", "content": "hi"}]
            )


def test_command_line_builds_the_config(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGENTSTREAM_LOCAL_MODEL_PORT", "9123")
    get_settings.cache_clear()
    try:
        host, port, config = parse_args(["--fault-rate", "0.5", "--fault-status", "500"])
    finally:
        get_settings.cache_clear()
    assert (host, port) == ("127.0.0.1", 9123)
    assert config.fault_rate == 0.5
    assert config.fault_statuses == [500]
    assert config.model_name == DEFAULT_MODEL
    _, chosen, defaults = parse_args(["--port", "0", "--scenario-dir", "/tmp/s"])
    assert chosen == 0
    assert defaults.fault_statuses == [529]
    assert [str(d) for d in defaults.scenario_dirs] == ["/tmp/s"]
