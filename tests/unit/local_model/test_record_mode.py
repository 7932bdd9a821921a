"""Record mode: proxy to an upstream Messages API, save the transcript, replay it later."""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anthropic
import pytest
from aiohttp import web

from local_model.recorder import append_turn
from tests.unit.local_model.harness import StartServer
from tests.unit.local_model.sample_tools import TOOLS

SECRET = "sk-ant-secret-value-0123456789"
PROMPT = "What's the weather in Paris and calculate 6 * 7?"


def saved_files(folder: Path) -> dict[str, str]:
    """Every file in `folder` (temporary files included) by name, with its text."""
    return {path.name: path.read_text() for path in sorted(folder.iterdir())}


async def converse(client: anthropic.AsyncAnthropic) -> list[dict[str, Any]]:
    """A two-turn tool conversation; returns each reply without its message id."""
    messages: list[dict[str, Any]] = [{"role": "user", "content": PROMPT}]
    replies: list[dict[str, Any]] = []
    for _ in range(2):
        reply = await client.messages.create(
            model="claude-test", max_tokens=200, tools=TOOLS, messages=messages
        )
        replies.append(reply.model_dump(exclude={"id"}, exclude_none=True))
        uses = [block for block in reply.content if block.type == "tool_use"]
        if not uses:
            break
        messages.append({"role": "assistant", "content": [b.model_dump() for b in reply.content]})
        results = [
            {"type": "tool_result", "tool_use_id": use.id, "content": f"result of {use.name}"}
            for use in uses
        ]
        messages.append({"role": "user", "content": results})
    return replies


async def test_recorded_transcript_replays_identically(start: StartServer, tmp_path: Path) -> None:
    upstream = await start()
    recorder = await start(upstream_url=upstream.base_url, record_dir=tmp_path)
    recorded = await converse(recorder.client(api_key=SECRET))
    assert [reply["stop_reason"] for reply in recorded] == ["tool_use", "end_turn"]
    assert upstream.state.stats.requests == 2

    digest = hashlib.sha256(PROMPT.encode()).hexdigest()[:12]
    files = saved_files(tmp_path)
    assert list(files) == [f"recorded-{digest}.json"]
    saved = files[f"recorded-{digest}.json"]
    assert SECRET not in saved
    scenario = json.loads(saved)
    assert scenario["name"] == f"recorded-{digest}"
    assert [turn["stop_reason"] for turn in scenario["turns"]] == ["tool_use", "end_turn"]

    replayer = await start(scenario_dirs=[tmp_path])
    replayed = await converse(replayer.client())
    assert replayed == recorded
    assert upstream.state.stats.requests == 2
    assert replayer.state.stats.served == 2


@pytest.fixture
async def fake_upstream() -> AsyncIterator[tuple[str, list[dict[str, str]]]]:
    """An upstream that records request headers and answers 429 to prompts saying 'limit'."""
    seen: list[dict[str, str]] = []

    async def messages(request: web.Request) -> web.Response:
        seen.append(dict(request.headers))
        body = await request.json()
        if "limit" in json.dumps(body["messages"]):
            error = {"type": "error", "error": {"type": "rate_limit_error", "message": "slow"}}
            return web.json_response(error, status=429, headers={"retry-after-ms": "1"})
        message = {
            "id": "msg_up",
            "type": "message",
            "role": "assistant",
            "model": body["model"],
            "content": [{"type": "text", "text": "from upstream"}],
            "stop_reason": "end_turn",
            "stop_sequence": None,
            "usage": {"input_tokens": 3, "output_tokens": 2, "service_tier": "standard"},
        }
        return web.json_response(message, headers={"request-id": "req_upstream"})

    app = web.Application()
    app.router.add_post("/v1/messages", messages)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    yield f"http://127.0.0.1:{runner.addresses[0][1]}", seen
    await runner.cleanup()


async def test_forwards_auth_headers_and_returns_upstream_answers_unchanged(
    start: StartServer, tmp_path: Path, fake_upstream: tuple[str, list[dict[str, str]]]
) -> None:
    url, seen = fake_upstream
    recorder = await start(upstream_url=url, record_dir=tmp_path)
    client = recorder.client(api_key=SECRET, max_retries=0)
    raw = await client.messages.with_raw_response.create(
        model="m",
        max_tokens=10,
        messages=[{"role": "user", "content": "[scenario:named-recording] hi"}],
    )
    reply = await raw.parse()
    assert reply.id == "msg_up"
    assert reply.content[0].text == "from upstream"
    assert raw.headers["request-id"] == "req_upstream"
    assert seen[0]["Authorization"] == f"Bearer {SECRET}"
    assert seen[0]["anthropic-version"]

    with pytest.raises(anthropic.RateLimitError):
        await client.messages.create(
            model="m", max_tokens=10, messages=[{"role": "user", "content": "limit please"}]
        )
    files = saved_files(tmp_path)
    assert list(files) == ["named-recording.json"]
    assert SECRET not in files["named-recording.json"]
    turns = json.loads(files["named-recording.json"])["turns"]
    assert turns == [
        {
            "content": [{"type": "text", "text": "from upstream"}],
            "stop_reason": "end_turn",
            "stop_sequence": None,
            "usage": {"input_tokens": 3, "output_tokens": 2},
        }
    ]


async def test_unreachable_upstream_is_a_server_error(start: StartServer) -> None:
    recorder = await start(upstream_url="http://127.0.0.1:9")
    with pytest.raises(anthropic.InternalServerError, match="upstream unreachable"):
        await recorder.client(max_retries=0).messages.create(
            model="m", max_tokens=10, messages=[{"role": "user", "content": "hi"}]
        )


def test_turn_is_written_at_the_conversation_index(tmp_path: Path) -> None:
    message = {"type": "message", "content": [], "stop_reason": "end_turn", "usage": {}}
    later = {
        "messages": [
            {"role": "user", "content": "[scenario:gap] a"},
            {"role": "assistant", "content": "b"},
            {"role": "user", "content": "c"},
        ]
    }
    path = append_turn(tmp_path, later, message)
    assert json.loads(path.read_text())["turns"][0] == {"policy": True}
    first = {"messages": later["messages"][:1]}
    append_turn(tmp_path, first, {**message, "stop_reason": "refusal"})
    turns = json.loads(path.read_text())["turns"]
    assert [turn.get("stop_reason") for turn in turns] == ["refusal"]
