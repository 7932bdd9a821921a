"""A call that goes missing is published again under the same id when its lease runs out.

The tool here has no worker: the test plays the worker with a plain Kafka client, ignores
the first delivery (as a worker killed mid-call would), and answers the second.
"""

from __future__ import annotations

import json
import uuid

import pytest

from agentstream.stack import Stack
from tests.integration.conftest import CALL_LEASE_S, register_unserved, settings_for
from tests.support.wire import Wire
from topics.codec import encode, encode_key
from topics.messages import ToolResult, ToolSpec
from topics.names import Topics

pytestmark = pytest.mark.integration

LOST = ToolSpec(
    name="mislaid",
    timeout_s=30.0,
    input_schema={"type": "object", "properties": {}},
    description=(
        "Fetch the mislaid parcel.\nUse when asked for the mislaid parcel.\nDo not use otherwise."
    ),
)


async def test_a_call_without_a_result_is_published_again_and_the_answer_applies(
    stack: Stack,
) -> None:
    settings = settings_for(stack)
    topics = Topics(settings.topic_prefix)
    await register_unserved(settings.kafka_bootstrap_servers, topics.prefix, LOST)
    await stack.wait_for_tools([LOST.name], 30)
    calls = topics.tool_calls(LOST.name).name
    watched = [calls, topics.agent_responses.name, topics.agent_events.name]
    async with Wire(settings.kafka_bootstrap_servers, topics, watched) as wire:
        cid = await wire.request(
            {
                "conversation_id": f"rd-{uuid.uuid4().hex[:8]}",
                "prompt": "fetch the mislaid parcel",
                "tools": [LOST.name],
            }
        )
        await wire.wait_for(
            lambda: len(wire.on(calls)) >= 2, 4 * CALL_LEASE_S + 10, "the call published twice"
        )
        first, second = wire.on(calls)[:2]
        assert first["tool_use_id"] == second["tool_use_id"]
        assert first["input"] == second["input"]
        assert first["dispatched_at"] == second["dispatched_at"]
        await wire.wait_for(
            lambda: any(
                e["type"] == "call_redriven" and first["tool_use_id"] in e["detail"]
                for e in wire.on(topics.agent_events.name)
            ),
            10,
            "a call_redriven event naming the call",
        )
        result = ToolResult(
            conversation_id=cid, tool_use_id=second["tool_use_id"], tool=LOST.name, content="found"
        )
        for _ in range(2):  # the worker's answer, and the same answer again: applied once
            await wire.publish(encode(result), encode_key(cid), topics.agent_steps.name)
        response = await wire.response(cid, 30)
        assert response["status"] == "completed", json.dumps(response)[:500]
        assert response["tool_calls"] == 1 and response["iterations"] == 2
