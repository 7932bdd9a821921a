"""Requests the real API rejects are rejected here with the same kind of 400."""

from __future__ import annotations

from typing import Any

import aiohttp
import anthropic
import pytest

from local_model.request import ApiError, validate_request
from tests.unit.local_model.harness import RunningServer
from tests.unit.local_model.sample_tools import TOOLS

USE = {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Oslo"}}
USE_2 = {"type": "tool_use", "id": "toolu_2", "name": "calculator", "input": {"expression": "1"}}


def result(tool_use_id: str) -> dict[str, Any]:
    """A tool_result block answering `tool_use_id`."""
    return {"type": "tool_result", "tool_use_id": tool_use_id, "content": "ok"}


def body(**overrides: Any) -> dict[str, Any]:
    """A valid request with some fields replaced (None removes a field)."""
    base: dict[str, Any] = {
        "model": "m",
        "max_tokens": 10,
        "messages": [{"role": "user", "content": "hi"}],
        "tools": TOOLS,
    }
    base.update(overrides)
    return {key: value for key, value in base.items() if value is not None}


def tool_turns(*answers: dict[str, Any]) -> list[dict[str, Any]]:
    """User asks, assistant calls two tools, user answers with `answers`."""
    return [
        {"role": "user", "content": "go"},
        {"role": "assistant", "content": [USE, USE_2]},
        {"role": "user", "content": list(answers)},
    ]


INVALID: list[tuple[dict[str, Any], str]] = [
    (body(max_tokens=None), "max_tokens: Field required"),
    (body(max_tokens=0), "greater than or equal to 1"),
    (body(max_tokens="10"), "valid integer"),
    (body(messages=[]), "at least one message"),
    (body(messages=[{"role": "assistant", "content": "hi"}]), 'first message must use the "user"'),
    (
        body(messages=[{"role": "user", "content": "a"}, {"role": "user", "content": "b"}]),
        "roles must alternate",
    ),
    (body(messages=[{"role": "system", "content": "a"}]), "role"),
    (body(messages=tool_turns(result("toolu_1"))), "without `tool_result` blocks"),
    (
        body(messages=tool_turns(result("toolu_1"), result("toolu_2"), result("toolu_9"))),
        "unexpected `tool_use_id`",
    ),
    (
        body(messages=tool_turns(result("toolu_1"), result("toolu_1"), result("toolu_2"))),
        "exactly one",
    ),
    (body(messages=[{"role": "user", "content": [result("toolu_1")]}]), "unexpected"),
    (body(tool_choice={"type": "tool", "name": "nope"}), "tool 'nope' not found"),
    (body(tools=None, tool_choice={"type": "any"}), "requires at least one tool"),
    (body(tools=None, tool_choice={"type": "tool", "name": "x"}), "requires at least one tool"),
    (body(tool_choice={"type": "sometimes"}), "tool_choice.type"),
    (body(stop_sequences=[""]), "stop_sequences"),
    (body(system=[{"type": "image"}]), "system"),
]


@pytest.mark.parametrize(("request_body", "message"), INVALID)
def test_invalid_requests_raise_400(request_body: dict[str, Any], message: str) -> None:
    with pytest.raises(ApiError) as raised:
        validate_request(request_body)
    assert raised.value.status == 400
    assert message in raised.value.message


@pytest.mark.parametrize(
    "request_body",
    [
        body(),
        body(messages=tool_turns(result("toolu_2"), result("toolu_1"))),
        body(tools=None, tool_choice={"type": "none"}),
        body(tool_choice={"type": "tool", "name": "calculator", "disable_parallel_tool_use": True}),
        body(system="be brief", stop_sequences=["END"]),
        body(messages=[{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}]),
    ],
)
def test_valid_requests_pass(request_body: dict[str, Any]) -> None:
    validate_request(request_body)


SDK_SENDABLE = [case for case in INVALID if isinstance(case[0].get("max_tokens"), int)]
"""The SDK itself refuses requests without an integer max_tokens."""


@pytest.mark.parametrize(("request_body", "message"), SDK_SENDABLE)
async def test_sdk_surfaces_validation_errors_as_bad_request(
    server: RunningServer, request_body: dict[str, Any], message: str
) -> None:
    client = server.client()
    with pytest.raises(anthropic.BadRequestError) as raised:
        await client.messages.create(**request_body)
    assert raised.value.status_code == 400
    assert raised.value.body["error"]["type"] == "invalid_request_error"
    assert message in raised.value.message
    assert server.state.stats.requests == 1


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b'{"model": "m", "messages": [{"role": "user", "content": "hi"}]}', "max_tokens"),
        (b"{not json", "not valid JSON"),
        (b"[1, 2]", "JSON object"),
    ],
)
async def test_raw_bad_bodies_get_anthropic_error_shape(
    server: RunningServer, raw: bytes, message: str
) -> None:
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{server.base_url}/v1/messages", data=raw) as response,
    ):
        assert response.status == 400
        payload = await response.json()
    assert payload["type"] == "error"
    assert payload["error"]["type"] == "invalid_request_error"
    assert message in payload["error"]["message"]
