"""Fuzzing every decoder: any bytes give a message or a DecodeError, nothing else."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel

from topics.codec import DecodeError, decode, decode_step, read_envelope
from topics.messages import AgentRequest, ModelCall, ToolCall, ToolSpec

MODELS: list[type[BaseModel]] = [AgentRequest, ModelCall, ToolCall, ToolSpec]
FIELDS = [
    "conversation_id",
    "prompt",
    "messages",
    "tools",
    "timeout_s",
    "metadata",
    "reply_topic",
    "schema_version",
    "kind",
    "call_id",
    "tool_use_id",
    "tool",
    "input",
    "params",
    "deadline_at",
    "name",
    "description",
    "input_schema",
    "content",
    "at",
    "error",
    "topic",
]
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.text(max_size=30),
    st.floats(allow_nan=True, allow_infinity=True),
)
json_values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.sampled_from(FIELDS) | st.text(max_size=8), inner, max_size=6),
    ),
    max_leaves=30,
)
documents = st.one_of(
    st.dictionaries(st.sampled_from(FIELDS), json_values, max_size=10).map(
        lambda d: json.dumps(d).encode()
    ),
    st.binary(max_size=300),
    st.integers(1, 3_000).map(lambda n: ("[" * n + "]" * n).encode()),
    st.tuples(st.integers(1, 3_000), st.sampled_from(FIELDS)).map(
        lambda p: f'{{"{p[1]}": {"[" * p[0]}{"]" * p[0]}, "conversation_id": "c"}}'.encode()
    ),
)


def _decodes_or_refuses(data: bytes) -> None:
    for model in MODELS:
        try:
            decode(data, model)
        except DecodeError as exc:
            assert str(exc)
    try:
        decode_step(data)
    except DecodeError as exc:
        assert str(exc)


@given(documents)
def test_every_decoder_returns_a_message_or_a_decode_error(data: bytes) -> None:
    _decodes_or_refuses(data)


@given(documents)
def test_reading_an_envelope_never_raises_and_bounds_the_id(data: bytes) -> None:
    conversation_id, reply_topic = read_envelope(data)
    assert conversation_id is None or 0 < len(conversation_id) <= 200
    assert reply_topic is None or isinstance(reply_topic, str)


@given(st.dictionaries(st.sampled_from(FIELDS), json_values, max_size=10))
def test_a_decodable_request_reads_back_its_own_id(body: dict[str, Any]) -> None:
    data = json.dumps(body).encode()
    try:
        request = decode(data, AgentRequest)
    except DecodeError:
        return
    assert read_envelope(data)[0] == request.conversation_id
