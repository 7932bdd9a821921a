"""`agentstream worker --tool NAME`: one member of a tool's worker pool."""

from __future__ import annotations

import argparse
import asyncio
import logging

from aiokafka.structs import ConsumerRecord

from agentstream.service import boot
from agentstream.settings import Settings
from monitoring import metrics
from tool_workers.executor import execute
from tool_workers.registry import ToolDef, load
from tool_workers.runtime import (
    BadMessage,
    CallConsumer,
    Outgoing,
    decode_call,
    make_producer,
    run_until_signalled,
    worker_id,
)
from tool_workers.threads import ThreadSlots
from topics.admin import ensure_topics
from topics.codec import encode, encode_key
from topics.messages import ToolCall
from topics.names import Topics

log = logging.getLogger(__name__)


async def publish_spec(settings: Settings, tool: ToolDef) -> None:
    """Announce the tool on the compacted registry topic so orchestrators can offer it."""
    topics = Topics(settings.topic_prefix)
    producer = make_producer(settings.kafka_bootstrap_servers)
    await producer.start()
    try:
        await producer.send_and_wait(
            topics.tool_registry.name, encode(tool.spec()), key=encode_key(tool.name)
        )
    finally:
        await producer.stop()


def make_handler(settings: Settings, tool: ToolDef, me: str, threads: ThreadSlots):
    """Decode a ToolCall, execute it, and address the ToolResult to agent.steps."""
    steps = Topics(settings.topic_prefix).agent_steps.name

    async def handle(record: ConsumerRecord) -> list[Outgoing]:
        call = decode_call(record, ToolCall)
        if call.tool != tool.name:
            raise BadMessage(f"call for tool {call.tool!r} on the {tool.name!r} topic")
        result = await execute(tool, call, me, threads)
        if result is None:
            metrics.record_tool_skipped(tool.name)
            return []
        metrics.record_tool_execution(result)
        return [Outgoing(steps, result.conversation_id, encode(result))]

    return handle


async def serve(settings: Settings, tool: ToolDef, concurrency: int) -> None:
    topics = Topics(settings.topic_prefix)
    await ensure_topics(
        settings.kafka_bootstrap_servers,
        [
            topics.tool_calls(tool.name),
            topics.tool_registry,
            topics.agent_steps,
            topics.dead_letters,
        ],
    )
    await publish_spec(settings, tool)
    me = worker_id()
    threads = ThreadSlots(concurrency)
    consumer = CallConsumer(
        bootstrap=settings.kafka_bootstrap_servers,
        topic=topics.tool_calls(tool.name).name,
        group=topics.tool_group(tool.name),
        handler=make_handler(settings, tool, me, threads),
        concurrency=concurrency,
        dead_letter_topic=topics.dead_letters.name,
        busy=lambda: threads.overrunning,
    )
    try:
        await run_until_signalled(
            consumer,
            lambda: log.info(
                "Worker %s serves tool %s with concurrency %d.", me, tool.name, concurrency
            ),
        )
    finally:
        threads.shutdown()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="agentstream worker")
    parser.add_argument("--tool", required=True)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument(
        "--module",
        action="append",
        default=[],
        help="extra module(s) that register tools with @tool",
    )
    parser.add_argument("--metrics-port", type=int, default=None)
    args = parser.parse_args(argv)
    tools = load(args.module)
    if args.tool not in tools:
        parser.error(f"unknown tool {args.tool!r}; known: {', '.join(sorted(tools))}")
    settings = boot(args.metrics_port)
    asyncio.run(serve(settings, tools[args.tool], args.concurrency))
    return 0
