"""Publish requests and follow conversations: the library behind `agentstream submit`.

Any Kafka client can do the same with the JSON in docs/protocol.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

from aiokafka import TopicPartition

from config.settings import Settings, get_settings
from topics import clients
from topics.admin import ensure_topics, require_topics, within
from topics.codec import DecodeError, decode, encode, encode_key
from topics.messages import AgentEvent, AgentRequest, AgentResponse
from topics.names import Topics, TopicSpec


class AgentClient:
    """Submits AgentRequests and streams back their events and responses.

    Without a name it reads the shared agent.events and agent.responses. A named client
    has its requests answered on its own `replies.<name>` topic and reads only that (an
    ACL can then keep every other client out of it); it sees responses, not events.
    """

    def __init__(self, settings: Settings, name: str | None = None) -> None:
        self.settings = settings
        self.topics = Topics(settings.topic_prefix)
        self.replies = self.topics.reply_topic(name) if name else None
        self.producer = clients.producer(settings.kafka)
        self.consumer = clients.consumer(settings.kafka, fetch_max_wait_ms=50)

    @property
    def _reads(self) -> list[TopicSpec]:
        if self.replies is not None:
            return [self.replies]
        return [self.topics.agent_events, self.topics.agent_responses]

    async def start(self) -> None:
        """Connect and position at the end of what it reads (so nothing is missed).

        Fails within the connect timeout when the broker does not answer, and with
        MissingTopics when the platform's topics do not exist: a client never creates
        them (a broker's auto-creation would give them the wrong partition count), only
        its own reply topic.
        """
        bootstrap, timeout_s = (
            self.settings.kafka,
            self.settings.connect_timeout_s,
        )
        try:
            if self.replies is not None:
                await ensure_topics(
                    bootstrap, [self.replies], timeout_s, **self.settings.replication
                )
            await within(self.consumer.start(), timeout_s, bootstrap)
            needed = (self.topics.agent_requests, *self._reads)
            require_topics(await within(self.consumer.topics(), timeout_s, bootstrap), needed)
            await within(self.producer.start(), timeout_s, bootstrap)
        except BaseException:
            await self.stop()
            raise
        tps = []
        for spec in self._reads:
            tps += [TopicPartition(spec.name, p) for p in range(spec.partitions)]
        self.consumer.assign(tps)
        await within(self.consumer.seek_to_end(*tps), timeout_s, bootstrap)
        for tp in tps:
            await within(self.consumer.position(tp), timeout_s, bootstrap)

    async def stop(self) -> None:
        await clients.stop_consumer(self.consumer)
        await self.producer.stop()

    async def submit(self, request: AgentRequest) -> None:
        if self.replies is not None and request.reply_topic is None:
            request = request.model_copy(update={"reply_topic": self.replies.name})
        await asyncio.wait_for(
            self.producer.send_and_wait(
                self.topics.agent_requests.name,
                encode(request),
                key=encode_key(request.conversation_id),
            ),
            self.settings.produce_timeout_s,
        )

    async def follow(
        self, conversation_ids: set[str], timeout_s: float
    ) -> AsyncIterator[AgentEvent | AgentResponse]:
        """Yield events and responses of these conversations until all have responded."""
        waiting = set(conversation_ids)
        deadline = time.monotonic() + timeout_s
        while waiting and time.monotonic() < deadline:
            batch = await self.consumer.getmany(timeout_ms=100)
            for tp, records in batch.items():
                kind = AgentEvent if tp.topic == self.topics.agent_events.name else AgentResponse
                for record in records:
                    try:
                        message = decode(record.value, kind)
                    except DecodeError:
                        continue
                    if message.conversation_id not in conversation_ids:
                        continue
                    if isinstance(message, AgentResponse):
                        waiting.discard(message.conversation_id)
                    yield message
        if waiting:
            raise TimeoutError(f"no response within {timeout_s:g}s for {sorted(waiting)}")


async def answer(client: AgentClient, request: AgentRequest, timeout_s: float) -> AgentResponse:
    """Submit one request and return its response (its events are passed over)."""
    await client.submit(request)
    async for message in client.follow({request.conversation_id}, timeout_s):
        if isinstance(message, AgentResponse):
            return message
    raise TimeoutError(f"no response within {timeout_s:g}s for {request.conversation_id}")


def describe(message: AgentEvent | AgentResponse) -> str:
    """One human line for a progress event or a final response."""
    if isinstance(message, AgentResponse):
        u = message.usage
        answer = json.dumps(message.output) if message.output is not None else message.text
        return (
            f"[{message.status}] after {message.iterations} model calls, "
            f"{message.tool_calls} tool calls, {message.duration_s:.2f}s; tokens in/out "
            f"{u.input_tokens}/{u.output_tokens}, ${message.cost_usd:.6f}"
            + (f"; error: {message.error}" if message.error else "")
            + f"\n  {answer}"
        )
    extra = ""
    if message.type == "tool_finished":
        extra = f" {message.tool} on {message.worker} in {(message.duration_s or 0):.3f}s"
    return f"  turn {message.iteration}: {message.type}{extra} {message.detail}".rstrip()


async def _submit(
    settings: Settings, request: AgentRequest, timeout_s: float, name: str | None
) -> int:
    client = AgentClient(settings, name)
    await client.start()
    try:
        await client.submit(request)
        print(f"submitted {request.conversation_id}")
        async for message in client.follow({request.conversation_id}, timeout_s):
            print(describe(message))
            if isinstance(message, AgentResponse):
                return 0 if message.status == "completed" else 1
    finally:
        await client.stop()
    return 1


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="agentstream submit")
    parser.add_argument("prompt")
    parser.add_argument(
        "--tool",
        action="append",
        default=None,
        help="tool the request may use (repeatable; default: the examples)",
    )
    parser.add_argument("--timeout", type=float, default=120.0)
    parser.add_argument("--conversation-id", default=None)
    parser.add_argument(
        "--client",
        default=None,
        metavar="NAME",
        help="be answered on replies.NAME and read only that topic (no progress events)",
    )
    args = parser.parse_args(argv)
    fields: dict[str, Any] = {
        "conversation_id": args.conversation_id or f"cli-{uuid.uuid4().hex[:12]}",
        "prompt": args.prompt,
        "tools": args.tool or ["calculator", "clock", "search_docs", "sleep"],
        "timeout_s": args.timeout,
    }
    request = AgentRequest(**fields)
    return asyncio.run(_submit(get_settings(), request, args.timeout + 10, args.client))
