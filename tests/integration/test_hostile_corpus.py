"""A corpus of hostile records published into the running platform, then good traffic:
nothing exits, nothing stalls, every good conversation completes, every bad record is
answered or dead-lettered with a reason."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator

import pytest

from agentstream.stack import Stack
from tests.support.wire import Wire
from topics.codec import DecodeError, decode
from topics.messages import AgentRequest
from topics.names import Topics

pytestmark = pytest.mark.integration
GOOD_CONVERSATIONS = 40


def hostile_requests(prefix: str) -> list[tuple[str | None, bytes]]:
    """(readable id or None, raw record) for each row of the hostile-input table."""
    topics = Topics(prefix)
    tag = uuid.uuid4().hex[:6]
    deep = "[" * 100_000 + "]" * 100_000
    rows: list[tuple[str | None, dict | str | bytes]] = [
        (f"h1-{tag}", {"reply_topic": "bad topic!"}),
        (f"h2-{tag}", {"reply_topic": "r" * 300}),
        (f"h3-{tag}", {"reply_topic": "__consumer_offsets"}),
        (f"h4-{tag}", {"reply_topic": topics.agent_steps.name}),
        (f"h5-{tag}", {"reply_topic": topics.model_calls.name}),
        (f"h6-{tag}", {"reply_topic": topics.tool_calls("calculator").name}),
        (f"h7-{tag}", {"reply_topic": topics.agent_events.name}),
        (f"h8-{tag}", {"reply_topic": topics.dead_letters.name}),
        (f"h9-{tag}", {"reply_topic": f"{prefix}agentstream-orchestrator-conversations-changelog"}),
        (f"h10-{tag}", {"reply_topic": "brand-new-topic"}),
        (f"h11-{tag}", {"schema_version": 99}),
        (f"h12-{tag}", {"timeout_s": float("nan")}),
        (f"h13-{tag}", f'{{"conversation_id": "h13-{tag}", "metadata": {deep}}}'),
        (f"h14-{tag}", f'{{"conversation_id": "h14-{tag}", "prompt": {deep}}}'),
        ("i" * 200, '{"conversation_id": "' + "i" * 10_000 + '", "prompt": "x"}'),
        ("777", '{"conversation_id": 777, "prompt": "x"}'),
        (None, b'{"conversation_id": "\xff\xfe'),
        (None, b"\x00\x01 not json at all"),
        (None, b""),
    ]
    out: list[tuple[str | None, bytes]] = []
    for conversation_id, body in rows:
        if isinstance(body, dict):
            body = json.dumps({"conversation_id": conversation_id, "prompt": "hi", **body})
        out.append((conversation_id, body if isinstance(body, bytes) else body.encode()))
    return out


def _undecodable(raw: bytes) -> bool:
    try:
        decode(raw, AgentRequest)
    except DecodeError:
        return True
    return False


@pytest.fixture
async def wire(stack: Stack) -> AsyncIterator[Wire]:
    async with Wire(stack.config.bootstrap, Topics(stack.config.prefix)) as opened:
        yield opened


async def test_hostile_corpus_then_good_traffic(stack: Stack, wire: Wire) -> None:
    topics = wire.topics
    corpus = hostile_requests(stack.config.prefix)
    for conversation_id, raw in corpus:
        await wire.publish(raw, key=conversation_id.encode() if conversation_id else None)
    garbage = {
        topics.agent_steps.name: b'{"kind": "tool_result", "conversation_id": ' + b"[" * 50_000,
        topics.model_calls.name: b"\xff" * 100,
        topics.tool_calls("calculator").name: b'{"tool": "calculator", "input": NaN}',
    }
    for topic, raw in garbage.items():
        await wire.publish(raw, key=b"garbage", topic=topic)
    published_at = time.monotonic()
    good = [f"good-{uuid.uuid4().hex[:8]}" for _ in range(GOOD_CONVERSATIONS)]
    for conversation_id in good:
        await wire.request(
            {"conversation_id": conversation_id, "prompt": "compute 6*7", "tools": ["calculator"]}
        )
    await wire.wait_for(
        lambda: all(wire.responses(c) for c in good), 60, f"{GOOD_CONVERSATIONS} good answers"
    )
    took = time.monotonic() - published_at
    assert [wire.responses(c)[0]["status"] for c in good] == ["completed"] * len(good)
    answered = [c for c, _ in corpus if c is not None]
    await wire.wait_for(lambda: all(wire.responses(c) for c in answered), 30, "bad ones answered")
    for conversation_id in answered:
        (answer,) = wire.responses(conversation_id)
        assert answer["status"] == "invalid_request" and answer["error"], conversation_id
    dlq = topics.dead_letters.name
    expected_letters = {
        topics.agent_requests.name: sum(1 for _, raw in corpus if _undecodable(raw)),
        **{topic: 1 for topic in garbage},
    }

    def lettered() -> dict[str, int]:
        counts: dict[str, int] = {}
        for letter in wire.on(dlq):
            assert letter["reason"]
            counts[letter["source_topic"]] = counts.get(letter["source_topic"], 0) + 1
        return counts

    await wire.wait_for(
        lambda: lettered() == expected_letters, 30, f"dead letters {expected_letters}"
    )
    assert not stack.dead(), f"platform processes exited: {stack.dead()}"
    print(
        f"hostile corpus: {len(corpus)} requests + {len(garbage)} garbage records; "
        f"{len(answered)} answered invalid_request, dead letters {lettered()}; "
        f"{GOOD_CONVERSATIONS} good conversations completed {took:.2f}s after publishing"
    )
