"""Every hostile request an upstream team can publish, against the running platform.

Each test publishes raw JSON with a plain aiokafka producer (as docs/protocol.md invites)
and checks the documented outcome on the real broker; the platform's processes must all
still be running afterwards (the `stack_alive` fixture).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from agents.encoded import Encoded
from agents.machine import Context, step
from agents.policy import Defaults
from agentstream.stack import Stack
from config.settings import Settings
from monitoring.scrape import scrape_sum
from tests.support.kafka import create_topic
from tests.support.waiting import wait_until
from tests.support.wire import Wire
from topics.messages import AgentRequest
from topics.names import MAX_PAYLOAD_BYTES, Topics

pytestmark = pytest.mark.integration


@pytest.fixture
async def wire(stack: Stack) -> AsyncIterator[Wire]:
    async with Wire(stack.config.bootstrap, Topics(stack.config.prefix)) as opened:
        yield opened
    assert not stack.dead(), f"platform processes died: {stack.dead()}"


def cid(tag: str) -> str:
    return f"{tag}-{uuid.uuid4().hex[:8]}"


def internal_topics(stack: Stack) -> list[str]:
    topics = Topics(stack.config.prefix)
    return [
        topics.agent_steps.name,
        topics.model_calls.name,
        topics.tool_calls("calculator").name,
        topics.agent_events.name,
        topics.dead_letters.name,
        topics.tool_registry("calculator").name,
        topics.agent_requests.name,
        f"{stack.config.prefix}agentstream-orchestrator-conversations-changelog",
    ]


@pytest.mark.parametrize(
    ("reply_topic", "reason"),
    [
        ("bad topic!", "not a legal Kafka topic name"),
        ("r" * 300, "not a legal Kafka topic name"),
        ("__consumer_offsets", "Kafka-internal"),
        ("someone-elses.topic", "not allowed"),
    ],
)
async def test_a_reply_topic_outside_the_policy_is_refused_on_the_default_topic(
    wire: Wire, reply_topic: str, reason: str
) -> None:
    conversation_id = await wire.request(
        {"conversation_id": cid("reply"), "prompt": "hi", "reply_topic": reply_topic}
    )
    answer = await wire.response(conversation_id)
    assert answer["status"] == "invalid_request" and reason in answer["error"]


async def test_internal_topics_are_never_written_as_reply_topics(stack: Stack, wire: Wire) -> None:
    async with Wire(
        stack.config.bootstrap, Topics(stack.config.prefix), internal_topics(stack)
    ) as spy:
        ids = []
        for topic in internal_topics(stack):
            ids.append(
                await wire.request(
                    {"conversation_id": cid("internal"), "prompt": "hi", "reply_topic": topic}
                )
            )
        ids.append(
            await wire.request(
                {
                    "conversation_id": "calculator",
                    "prompt": "hi",
                    "reply_topic": Topics(stack.config.prefix).tool_registry("calculator").name,
                }
            )
        )
        for conversation_id in ids:
            await wire.response(conversation_id)
        await spy.settle(1.0)
    for conversation_id in ids:
        answers = wire.responses(conversation_id)
        assert [a["status"] for a in answers] == ["invalid_request"]
        assert "internal" in answers[0]["error"]
    for topic in internal_topics(stack):
        if topic.endswith("agent.requests") or topic.endswith("agent.events"):
            continue  # our own requests, and the refusals' progress events
        keys = {r.key for r in spy.records[topic]}
        assert not keys & {i.encode() for i in ids}, f"a reply was written to {topic}"


def _overhead(settings: Settings) -> int:
    """Bytes the state or first model call adds to a prompt (the larger of the two)."""
    defaults = Defaults(model=settings.model, max_tokens=settings.model_max_tokens)
    request = AgentRequest(conversation_id="x" * 12, prompt="", timeout_s=60)
    t = step(None, request, Context(now=1.7e9, defaults=defaults, registry={}))
    assert t.state is not None
    encoded = Encoded(t, state_changed=True)  # the bytes the orchestrator would write
    assert encoded.state is not None
    return max(len(encoded.state), *map(len, encoded.emits))


@pytest.mark.parametrize("prompt_bytes", [4_500_000, 7_900_000])
async def test_a_large_prompt_under_the_limit_completes(wire: Wire, prompt_bytes: int) -> None:
    prompt = "[scenario:stop-end-turn] " + "a" * (prompt_bytes - 25)
    conversation_id = await wire.request(
        {"conversation_id": cid("big")[:12], "prompt": prompt, "timeout_s": 60}
    )
    answer = await wire.response(conversation_id, timeout_s=60)
    assert answer["status"] == "completed", answer["error"]


@pytest.mark.parametrize(("margin", "accepted"), [(-64, True), (64, False)])
async def test_the_size_limit_holds_at_just_under_and_just_over(
    stack: Stack, wire: Wire, margin: int, accepted: bool
) -> None:
    settings = Settings()
    fill = MAX_PAYLOAD_BYTES - _overhead(settings) + margin
    prompt = "[scenario:stop-end-turn] " + "a" * (fill - 25)
    conversation_id = await wire.request(
        {"conversation_id": cid("edge")[:12], "prompt": prompt, "timeout_s": 60}
    )
    answer = await wire.response(conversation_id, timeout_s=60)
    if accepted:
        assert answer["status"] == "completed", answer["error"]
    else:
        assert answer["status"] == "invalid_request"
        assert f"over the limit of {MAX_PAYLOAD_BYTES} bytes" in answer["error"]


@pytest.mark.parametrize("field", ["metadata", "prompt"])
async def test_deeply_nested_input_is_dead_lettered_and_answered(wire: Wire, field: str) -> None:
    conversation_id = cid("deep")
    deep = "[" * 100_000 + "]" * 100_000
    body = f'{{"conversation_id": "{conversation_id}", "{field}": {deep}}}'
    await wire.publish(body.encode(), key=conversation_id.encode())
    answer = await wire.response(conversation_id)
    assert answer["status"] == "invalid_request" and "nested more than" in answer["error"]
    dlq = wire.topics.dead_letters.name
    await wire.wait_for(
        lambda: any(conversation_id == d["key"] for d in wire.on(dlq)), 30, "the dead letter"
    )
    (letter,) = [d for d in wire.on(dlq) if d["key"] == conversation_id]
    assert "nested more than" in letter["reason"]


async def test_a_reused_conversation_id_gets_a_documented_outcome(stack: Stack, wire: Wire) -> None:
    metrics_url = f"http://127.0.0.1:{stack.metrics_ports['orchestrator']}/metrics"
    before = scrape_sum(metrics_url, "agentstream_duplicate_requests_total")
    conversation_id = cid("dup")
    first = {"conversation_id": conversation_id, "prompt": "[scenario:stop-end-turn] hi"}
    await wire.request(first)
    assert (await wire.response(conversation_id))["status"] == "completed"
    reply_topic = f"{stack.config.prefix}replies.{uuid.uuid4().hex[:8]}"
    await create_topic(stack.config.bootstrap, reply_topic, 1)
    async with Wire(stack.config.bootstrap, wire.topics, [reply_topic]) as other:
        await wire.request(first)  # a redelivery: same reply topic
        await wire.request({**first, "reply_topic": reply_topic})  # someone else's request
        await other.wait_for(lambda: other.on(reply_topic), 30, "the refusal")
        (refusal,) = other.on(reply_topic)
    assert refusal["status"] == "invalid_request" and "already in use" in refusal["error"]
    events = wire.topics.agent_events.name
    await wire.wait_for(
        lambda: (
            len(
                [
                    e
                    for e in wire.on(events)
                    if e["conversation_id"] == conversation_id and e["type"] == "duplicate_request"
                ]
            )
            == 2
        ),
        30,
        "two duplicate_request events",
    )
    assert len(wire.responses(conversation_id)) == 1
    assert scrape_sum(metrics_url, "agentstream_duplicate_requests_total") == before + 2


@pytest.mark.parametrize(
    ("raw_id", "echoed"),
    [
        (b'"' + b"i" * 10_000 + b'"', "i" * 200),
        (b'"caf\xff-id"', "caf\ufffd-id"),
        (b"4242", "4242"),
    ],
)
async def test_an_invalid_but_readable_id_is_answered(
    wire: Wire, raw_id: bytes, echoed: str
) -> None:
    key = uuid.uuid4().hex.encode()
    await wire.publish(b'{"conversation_id": ' + raw_id + b', "prompt": "hi"}', key=key)
    answer = await wire.response(echoed)
    assert answer["status"] == "invalid_request"
    record = next(
        r
        for r in wire.records[wire.topics.agent_responses.name]
        if json.loads(r.value)["conversation_id"] == echoed
    )
    assert record.key == key


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"schema_version": 99}, "unsupported schema_version 99"),
        ({"timeout_s": float("nan")}, "finite number"),
        ({"metadata": {f"k{i}": "v" for i in range(40)}}, "metadata"),
        ({"output_schema": {"type": "nope"}}, "output_schema is not a valid JSON schema"),
        # Never fetched: the orchestrator's files and network stay out of a sender's reach.
        ({"output_schema": {"$ref": "file:///etc/hostname"}}, "Retrieval is disabled"),
        ({"output_schema": {"$ref": "http://127.0.0.1:9/s.json"}}, "Retrieval is disabled"),
    ],
)
async def test_unsupported_versions_and_bad_numbers_say_what_is_wrong(
    wire: Wire, fields: dict[str, Any], reason: str
) -> None:
    conversation_id = cid("fields")
    await wire.publish(
        json.dumps({"conversation_id": conversation_id, "prompt": "hi", **fields}).encode(),
        key=conversation_id.encode(),
    )
    answer = await wire.response(conversation_id)
    assert answer["status"] == "invalid_request" and reason in answer["error"]


async def test_an_invalid_registry_entry_is_ignored_and_calls_of_that_tool_still_work(
    stack: Stack, wire: Wire
) -> None:
    registry = wire.topics.tool_registry
    metrics_url = f"http://127.0.0.1:{stack.metrics_ports['orchestrator']}/metrics"

    def rejected(reason: str) -> float:
        return scrape_sum(metrics_url, "agentstream_registry_entries_rejected_total", reason=reason)

    before = {reason: rejected(reason) for reason in ("invalid_schema", "wrong_topic")}
    bad = {
        "name": "clock",
        "description": "Tell the time.\nUse for time.\nNot for dates.",
        "input_schema": {"type": "numbr"},
        "timeout_s": 2,
    }
    await create_topic(wire.bootstrap, registry("numbr").name, 1)
    await wire.publish(json.dumps(bad).encode(), key=b"clock", topic=registry("clock").name)
    numbr = json.dumps({**bad, "name": "numbr"}).encode()
    await wire.publish(numbr, key=b"numbr", topic=registry("numbr").name)
    # Published on clock's topic: another tool's entry is refused whatever it says.
    forged = json.dumps({**bad, "name": "calculator", "input_schema": {"type": "object"}})
    await wire.publish(forged.encode(), key=b"calculator", topic=registry("clock").name)
    await wait_until(
        lambda: (
            rejected("invalid_schema") >= before["invalid_schema"] + 2
            and rejected("wrong_topic") >= before["wrong_topic"] + 1
        ),
        30,
        "the orchestrator to read and refuse the three entries",
    )
    conversation_id = await wire.request(
        {"conversation_id": cid("clock"), "prompt": "what time is it in UTC", "tools": ["clock"]}
    )
    answer = await wire.response(conversation_id)
    assert answer["status"] == "completed" and answer["tool_calls"] == 1
    unknown = await wire.request(
        {"conversation_id": cid("numbr"), "prompt": "hi", "tools": ["numbr"]}
    )
    refused = await wire.response(unknown)
    assert refused["status"] == "invalid_request" and "unknown tools" in refused["error"]
    calculation = await wire.request(
        {"conversation_id": cid("calc"), "prompt": "compute 6*7", "tools": ["calculator"]}
    )
    assert (await wire.response(calculation))["status"] == "completed"


async def test_a_runaway_calculation_is_refused_at_once(stack: Stack, wire: Wire) -> None:
    conversation_id = await wire.request(
        {
            "conversation_id": cid("pow"),
            "prompt": "compute ((9**999)**999)**999",
            "tools": ["calculator"],
        }
    )
    answer = await wire.response(conversation_id)
    assert answer["status"] == "completed" and "10000 bits" in answer["text"]
    url = f"http://127.0.0.1:{stack.metrics_ports['worker-calculator-1']}/metrics"
    assert scrape_sum(url, "agentstream_tool_threads_overrunning") == 0
