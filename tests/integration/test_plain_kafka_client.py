"""A team with any Kafka client and the JSON of docs/protocol.md gets its answer."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from agentstream.stack import Stack
from tests.support.kafka import create_topic
from tests.support.wire import Wire
from topics.names import Topics

pytestmark = pytest.mark.integration


async def _reply(
    stack: Stack, request: dict[str, Any], compression: str | None = None
) -> dict[str, Any]:
    """Publish `request` as raw JSON bytes without a key; its one reply on its reply topic."""
    bootstrap, reply_topic = stack.config.bootstrap, request["reply_topic"]
    await create_topic(bootstrap, reply_topic, 1)
    topics = Topics(stack.config.prefix)
    async with Wire(bootstrap, topics, [reply_topic], compression=compression) as wire:
        await wire.publish(json.dumps(request).encode())
        (reply,) = await wire.collect(reply_topic, 1)
    return reply


async def test_an_unkeyed_json_request_gets_its_response_on_the_reply_topic(stack: Stack) -> None:
    reply_topic = f"{stack.config.prefix}replies.{uuid.uuid4().hex[:8]}"
    request = {
        "conversation_id": f"plain-{uuid.uuid4().hex[:8]}",
        "prompt": "compute 19*23 and compute 2^8",
        "tools": ["calculator"],
        "reply_topic": reply_topic,
        "metadata": {"team": "billing"},
    }
    reply = await _reply(stack, request)
    assert reply["conversation_id"] == request["conversation_id"]
    assert reply["status"] == "completed" and reply["tool_calls"] == 2
    assert "437" in reply["text"] and "256" in reply["text"]
    assert reply["metadata"] == {"team": "billing"}
    assert reply["usage"]["input_tokens"] > 0 and reply["schema_version"] == 1


async def test_a_malformed_request_is_refused_with_a_reason(stack: Stack) -> None:
    reply_topic = f"{stack.config.prefix}replies.{uuid.uuid4().hex[:8]}"
    bad = {
        "conversation_id": f"bad-{uuid.uuid4().hex[:8]}",
        "tools": ["calculator"],
        "reply_topic": reply_topic,
        "max_iterations": 0,
    }
    reply = await _reply(stack, bad)
    assert reply["status"] == "invalid_request"
    assert "max_iterations" in reply["error"]


@pytest.mark.parametrize("codec", ["gzip", "snappy", "lz4", "zstd"])
async def test_a_request_compressed_with_any_kafka_codec_is_answered(
    stack: Stack, codec: str
) -> None:
    """The platform's own producers send uncompressed batches by default; a client's
    choice of codec is its own, and the broker and every consumer read all of them."""
    request = {
        "conversation_id": f"{codec}-{uuid.uuid4().hex[:8]}",
        "prompt": "compute 19*23",
        "tools": ["calculator"],
        "reply_topic": f"{stack.config.prefix}replies.{uuid.uuid4().hex[:8]}",
    }
    reply = await _reply(stack, request, compression=codec)
    assert reply["conversation_id"] == request["conversation_id"]
    assert reply["status"] == "completed" and "437" in reply["text"]
