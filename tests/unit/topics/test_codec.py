"""Bounded decoding: every hostile payload becomes a DecodeError with its reason."""

from __future__ import annotations

import json

import pytest

from topics.codec import (
    MAX_JSON_DEPTH,
    DecodeError,
    decode,
    decode_step,
    encode,
    read_envelope,
)
from topics.messages import AgentRequest, DeliveryFailure, ToolResult, ToolSpec
from topics.names import MAX_MESSAGE_BYTES


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def test_a_round_trip_keeps_every_field() -> None:
    request = AgentRequest(conversation_id="c", prompt="p", metadata={"team": "a"}, timeout_s=3)
    assert decode(encode(request), AgentRequest) == request


@pytest.mark.parametrize("depth", [MAX_JSON_DEPTH + 1, 250, 100_000])
def test_nesting_beyond_the_limit_is_refused_not_recursed(depth: int) -> None:
    payload = f'{{"conversation_id": "c", "prompt": "p", "metadata": {nested(depth)}}}'
    with pytest.raises(DecodeError, match=f"nested more than {MAX_JSON_DEPTH} levels"):
        decode(payload.encode(), AgentRequest)


def test_nesting_at_the_limit_is_still_parsed() -> None:
    inner = nested(MAX_JSON_DEPTH - 3)  # three levels: the request, messages, the message
    payload = f'{{"conversation_id": "c", "messages": [{{"role": "user", "content": {inner}}}]}}'
    with pytest.raises(DecodeError, match="nested"):
        decode(payload.replace(inner, nested(MAX_JSON_DEPTH)).encode(), AgentRequest)
    assert decode(payload.encode(), AgentRequest).messages is not None


def test_a_message_over_the_size_limit_is_refused_before_parsing() -> None:
    payload = b'{"conversation_id": "c", "prompt": "' + b"x" * MAX_MESSAGE_BYTES + b'"}'
    with pytest.raises(DecodeError, match=f"the limit is {MAX_MESSAGE_BYTES} bytes"):
        decode(payload, AgentRequest)


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b'{"conversation_id": "c", "prompt": "p", "timeout_s": NaN}', "finite number"),
        (b'{"conversation_id": "c", "prompt": "p", "timeout_s": Infinity}', "finite number"),
        (b'{"conversation_id": "c", "prompt": "p", "schema_version": 99}', "schema_version 99"),
        (b'{"conversation_id": "\xff\xfe", "prompt": "p"}', "not valid JSON"),
        (b"not json", "not valid JSON"),
        (None, "empty message"),
        (b'{"conversation_id": 42, "prompt": "p"}', "valid string"),
        (b'{"conversation_id": "c", "prompt": "p", "metadata": {"k": 1}}', "valid string"),
    ],
)
def test_hostile_requests_say_what_is_wrong(payload: bytes | None, reason: str) -> None:
    with pytest.raises(DecodeError, match=reason):
        decode(payload, AgentRequest)


def test_steps_of_every_kind_decode_and_garbage_does_not() -> None:
    failure = DeliveryFailure(conversation_id="c", call_id="c#1", topic="t", error="e")
    assert decode_step(encode(failure)) == failure
    result = ToolResult(conversation_id="c", tool_use_id="u", tool="t", content="x")
    assert decode_step(encode(result)) == result
    with pytest.raises(DecodeError, match="invalid step"):
        decode_step(b'{"kind": "nope", "conversation_id": "c"}')
    with pytest.raises(DecodeError, match="nested"):
        decode_step(nested(10_000).encode())


def test_registry_entries_are_bounded_too() -> None:
    with pytest.raises(DecodeError, match="name"):
        decode(
            b'{"name": "bad name!", "description": "d", "input_schema": {}, "timeout_s": 1}',
            ToolSpec,
        )


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        (
            b'{"conversation_id": "abc", "reply_topic": "replies.x", "max_iterations": 0}',
            ("abc", "replies.x"),
        ),
        (b'{"conversation_id": 42}', ("42", None)),
        (b'{"conversation_id": "' + b"i" * 10_000 + b'"}', ("i" * 200, None)),
        (b'{"conversation_id": "a\xffb"}', ("a\ufffdb", None)),
        (
            b'{"metadata": {"conversation_id": "inner"}, "prompt": '
            + nested(100_000).encode()
            + b', "conversation_id": "outer"}',
            ("outer", None),
        ),
        (b'{"conversation_id": "cut-short", "prompt": "never clo', ("cut-short", None)),
        (b'{"conversation_id": true}', (None, None)),
        (b'{"conversation_id": {"nested": 1}}', (None, None)),
        (b'{"conversation_id": ""}', (None, None)),
        (b"[1, 2, 3]", (None, None)),
        (b"garbage", (None, None)),
        (b"", (None, None)),
    ],
)
def test_the_id_of_an_undecodable_request_is_read_when_it_can_be(
    payload: bytes, expected: tuple[str | None, str | None]
) -> None:
    assert read_envelope(payload) == expected


def test_a_reply_topic_that_is_not_a_string_is_not_read() -> None:
    assert read_envelope(json.dumps({"conversation_id": "c", "reply_topic": 5}).encode()) == (
        "c",
        None,
    )
