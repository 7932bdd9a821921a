"""A team with any Kafka client and the JSON of docs/protocol.md gets its answer."""

from __future__ import annotations

import json
import uuid

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from agentstream.stack import Stack
from tests.support.kafka import create_topic
from tests.support.waiting import wait_until

pytestmark = pytest.mark.integration


async def _exchange(
    stack: Stack, payloads: list[bytes], reply_topic: str, expected: int
) -> list[dict]:
    """Publish raw bytes without a key and collect `expected` JSON replies."""
    bootstrap = stack.config.bootstrap
    await create_topic(bootstrap, reply_topic, 1)
    reader = AIOKafkaConsumer(
        reply_topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", fetch_max_wait_ms=50
    )
    await reader.start()
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    replies: list[dict] = []
    try:
        for payload in payloads:
            await producer.send_and_wait(f"{stack.config.prefix}agent.requests", payload)

        async def answered() -> bool:
            for records in (await reader.getmany(timeout_ms=100)).values():
                replies.extend(json.loads(r.value) for r in records)
            return len(replies) >= expected

        await wait_until(answered, 60, f"{expected} replies on {reply_topic}")
    finally:
        await producer.stop()
        await reader.stop()
    return replies


async def test_an_unkeyed_json_request_gets_its_response_on_the_reply_topic(stack: Stack) -> None:
    reply_topic = f"{stack.config.prefix}replies.{uuid.uuid4().hex[:8]}"
    request = {
        "conversation_id": f"plain-{uuid.uuid4().hex[:8]}",
        "prompt": "compute 19*23 and compute 2^8",
        "tools": ["calculator"],
        "reply_topic": reply_topic,
        "metadata": {"team": "billing"},
    }
    (reply,) = await _exchange(stack, [json.dumps(request).encode()], reply_topic, 1)
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
    (reply,) = await _exchange(stack, [json.dumps(bad).encode()], reply_topic, 1)
    assert reply["status"] == "invalid_request"
    assert "max_iterations" in reply["error"]
