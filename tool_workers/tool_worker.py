"""`agentstream worker --tool NAME`: one member of a tool's worker pool."""

from __future__ import annotations

import argparse
import asyncio
import logging
import time

from aiokafka.structs import ConsumerRecord

from config.settings import Settings
from monitoring import metrics
from monitoring.boot import boot
from tool_workers.definitions import ToolDef, load
from tool_workers.executor import execute
from tool_workers.idempotency import Journal, RecentCalls, answer_unclaimed, repeat_answer
from tool_workers.runtime import (
    BadMessage,
    CallConsumer,
    Outgoing,
    decode_call,
    run_until_signalled,
    worker_id,
)
from tool_workers.threads import ThreadSlots
from topics import clients
from topics.admin import ensure_topics
from topics.codec import encode, encode_key
from topics.connection import Target
from topics.messages import ToolCall, ToolResult, ToolSpec
from topics.names import Topics

log = logging.getLogger(__name__)


async def publish_spec(bootstrap: Target, prefix: str, spec: ToolSpec) -> None:
    """Announce a tool on its compacted registry topic so orchestrators can offer it."""
    producer = clients.producer(bootstrap)
    await producer.start()
    try:
        await producer.send_and_wait(
            Topics(prefix).tool_registry(spec.name).name, encode(spec), key=encode_key(spec.name)
        )
    finally:
        await producer.stop()


def make_handler(
    settings: Settings,
    tool: ToolDef,
    me: str,
    threads: ThreadSlots,
    journal: Journal | None = None,
):
    """Decode a ToolCall, execute it once per id, and address the ToolResult to agent.steps.

    A repeated id is answered from what this worker or the journal already knows; a call
    of a tool that is not idempotent is recorded as started (on the broker) before it runs.
    """
    steps = Topics(settings.topic_prefix).agent_steps.name
    recent = RecentCalls()

    def answer(result: ToolResult) -> Outgoing:
        return Outgoing(steps, result.conversation_id, encode(result))

    async def handle(record: ConsumerRecord) -> list[Outgoing]:
        call = decode_call(record, ToolCall)
        if call.tool != tool.name:
            raise BadMessage(f"call for tool {call.tool!r} on the {tool.name!r} topic")
        again = repeat_answer(call, recent, journal, answer)
        if again is not None:
            return again
        recent.start(call.tool_use_id)
        try:
            claimed = journal is None or time.time() >= call.deadline_at
            if not claimed and not await journal.claim(call, me):  # type: ignore[union-attr]
                recent.abandon(call.tool_use_id)
                return await answer_unclaimed(call, journal, answer)  # type: ignore[arg-type]
            result = await execute(tool, call, me, threads)
        except BaseException:
            recent.abandon(call.tool_use_id)
            raise
        if result is None:
            recent.abandon(call.tool_use_id)
            metrics.record_tool_skipped(tool.name)
            return []
        metrics.record_tool_execution(result)
        outgoing = [answer(result)]
        recent.finish(call.tool_use_id, outgoing)
        return outgoing + ([journal.finished(call, result)] if journal else [])

    return handle


async def serve(settings: Settings, tool: ToolDef, concurrency: int) -> None:
    topics = Topics(settings.topic_prefix)
    specs = [topics.tool_calls(tool.name), topics.tool_registry(tool.name), topics.agent_steps]
    specs += [topics.dead_letters, *([] if tool.idempotent else [topics.tool_journal(tool.name)])]
    await ensure_topics(settings.kafka, specs, **settings.replication)
    await publish_spec(settings.kafka, settings.topic_prefix, tool.spec())
    me = worker_id()
    threads = ThreadSlots(concurrency)
    journal, follower = await _open_journal(settings, tool)
    consumer = CallConsumer(
        bootstrap=settings.kafka,
        topic=topics.tool_calls(tool.name).name,
        group=topics.tool_group(tool.name),
        handler=make_handler(settings, tool, me, threads, journal),
        concurrency=concurrency,
        dead_letter_topic=topics.dead_letters.name,
        busy=lambda: threads.overrunning,
    )
    try:
        await run_until_signalled(
            consumer,
            lambda: log.info(
                "Worker %s serves tool %s with concurrency %d%s.",
                me,
                tool.name,
                concurrency,
                "" if journal is None else " (not idempotent: journaled)",
            ),
            settings.stop_grace_s,
        )
    finally:
        threads.shutdown()
        if follower is not None:
            follower.cancel()
            await asyncio.gather(follower, return_exceptions=True)
            await journal.close()  # type: ignore[union-attr]


async def _open_journal(
    settings: Settings, tool: ToolDef
) -> tuple[Journal | None, asyncio.Task[None] | None]:
    """For a tool that is not idempotent: its journal, caught up before any call is taken."""
    if tool.idempotent:
        return None, None
    producer = clients.producer(settings.kafka)
    await producer.start()
    spec = Topics(settings.topic_prefix).tool_journal(tool.name)
    journal = Journal(settings.kafka, spec, producer)
    follower = asyncio.create_task(journal.run())
    ready = asyncio.ensure_future(journal.ready.wait())
    await asyncio.wait(
        {follower, ready}, timeout=settings.connect_timeout_s, return_when="FIRST_COMPLETED"
    )
    if not journal.ready.is_set():
        ready.cancel()
        follower.cancel()
        await producer.stop()
        raise TimeoutError(f"the journal {spec.name} could not be read")
    return journal, follower


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
