"""The floor for the orchestrator's CPU: plain aiokafka carrying its records, with no logic.

Per conversation of the throughput phase (2 model calls, 3 tool calls) the orchestrator
reads 6 records (the request, 5 results) and writes 17: 5 calls, 7 progress events, about
4 state records (the changelog, written once per conversation per commit) and the answer.
`relay_cpu` runs exactly that traffic through a relay process built from the platform's
own clients (`topics.clients`: acks=all, idempotent, linger 0, uncompressed), consuming in a group
and committing every 0.5 s as faust does, with an echo process standing in for the workers.
The records have about the platform's sizes; the relay does nothing else (no faust, no
decoding beyond the step counter, no state). Conversations are started at the platform's
own measured rate, so batches are as large, or as small, as the orchestrator's were: its CPU
per conversation is what any orchestrator on aiokafka would pay for the same traffic.

    python -m bench.baselines.kafka_relay relay|echo --bootstrap HOST:PORT --prefix PREFIX
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.structs import ConsumerRecord

from agents.faust_fixes import FETCH_MAX_WAIT_MS as RELAY_FETCH_MAX_WAIT_MS
from agentstream.processes import is_alive, spawn, stop_pid
from bench.baselines.raw_kafka import READY_KEY, READY_TIMEOUT_S, _at_end, _child_env
from config import event_loop
from config.settings import get_settings
from tool_workers.runtime import FETCH_MAX_WAIT_MS as ECHO_FETCH_MAX_WAIT_MS
from topics import clients
from topics.admin import ensure_topics
from topics.names import CONVERSATION_PARTITIONS, TopicSpec

STEPS = 6
"""Records the orchestrator reads per conversation: the request and 5 results."""
EVENTS = (2, 1, 1, 1, 1, 1)
"""Progress events written on each step: 7 per conversation."""
STATES = (1, 1, 0, 1, 0, 1)
"""State records written on each step: 4 per conversation (one per commit it spans)."""
SIZES = {"request": 120, "result": 430, "call": 580, "event": 235, "state": 850, "answer": 500}
"""Bytes per record, the platform's means in a run of 3-call conversations (a model call
carries the transcript: 1,120 bytes, a tool call 220; calls here are their mean)."""
COMMIT_INTERVAL_S = 0.5
"""faust's broker_commit_interval in the orchestrator."""
WARMUP = 100
DRAIN_TIMEOUT_S = 120.0
MAX_LIFETIME_S = 3600.0


Handle = Callable[[AIOKafkaProducer, dict[str, str], ConsumerRecord], Awaitable[None]]


def topic_names(prefix: str) -> dict[str, str]:
    return {kind: f"{prefix}relay.{kind}" for kind in ("steps", "calls", "out", "answers")}


def record(conversation: str, step: int, kind: str) -> bytes:
    """A JSON record of about SIZES[kind] bytes that says which step comes next."""
    head = json.dumps({"conversation_id": conversation, "step": step, "kind": kind})
    pad = max(0, SIZES[kind] - len(head) - 12)
    return (head[:-1] + ', "pad": "' + ("lorem ipsum " * (pad // 12 + 1))[:pad] + '"}').encode()


def step_of(value: bytes) -> tuple[str, int]:
    body = json.loads(value)
    return body["conversation_id"], body["step"]


def outputs(topics: dict[str, str], conversation: str, step: int) -> list[tuple[str, bytes]]:
    """What the orchestrator writes on `step` of a conversation."""
    out = [(topics["out"], record(conversation, step, "event")) for _ in range(EVENTS[step])]
    out += [(topics["out"], record(conversation, step, "state")) for _ in range(STATES[step])]
    if step + 1 < STEPS:
        out.append((topics["calls"], record(conversation, step + 1, "call")))
    else:
        out.append((topics["answers"], record(conversation, step, "answer")))
    return out


async def _serve(
    prefix: str,
    bootstrap: str,
    source: str,
    commit_s: float,
    handle: Handle,
    max_life_s: float,
    fetch_max_wait_ms: int,
) -> None:
    """Consume `source` in a group until SIGTERM, `handle(producer, record)` for each."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    topics = topic_names(prefix)
    producer = clients.producer(bootstrap)
    consumer = clients.consumer(
        bootstrap,
        source,
        group_id=f"{source}.group",
        auto_offset_reset="latest",
        fetch_max_wait_ms=fetch_max_wait_ms,
    )
    await producer.start()
    await consumer.start()
    try:
        while not consumer.assignment():
            await consumer.getmany(timeout_ms=100)
        for tp in consumer.assignment():  # positioned at the end before anything is sent
            await consumer.position(tp)
        await producer.send_and_wait(topics["answers"], b"", key=READY_KEY)
        deadline, committed = time.monotonic() + max_life_s, time.monotonic()
        while not stop.is_set() and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=200)
            for records in batch.values():
                for each in records:
                    await handle(producer, topics, each)
            if time.monotonic() - committed >= commit_s:
                await producer.flush()
                await consumer.commit()
                committed = time.monotonic()
    finally:
        await clients.stop_consumer(consumer)
        await producer.stop()


async def _relay_one(
    producer: AIOKafkaProducer, topics: dict[str, str], each: ConsumerRecord
) -> None:
    conversation, step = step_of(each.value)
    for topic, value in outputs(topics, conversation, step):
        await producer.send(topic, value, key=each.key)  # acknowledged by the next flush


async def _echo_one(
    producer: AIOKafkaProducer, topics: dict[str, str], each: ConsumerRecord
) -> None:
    conversation, step = step_of(each.value)
    await producer.send(topics["steps"], record(conversation, step, "result"), key=each.key)


def _argv(role: str, bootstrap: str, prefix: str) -> list[str]:
    module = "bench.baselines.kafka_relay"
    return [sys.executable, "-m", module, role, "--bootstrap", bootstrap, "--prefix", prefix]


@dataclass
class _Drive:
    """Starts conversations at `rate` per second, at most `in_flight` unanswered."""

    producer: AIOKafkaProducer
    answers: AIOKafkaConsumer
    topics: dict[str, str]
    in_flight: int

    async def run(self, tag: str, n: int, rate: float) -> float:
        """Seconds from the first request to the last answer."""
        room = asyncio.Semaphore(self.in_flight)
        sent: set[str] = set()
        done: set[str] = set()

        async def read() -> None:
            while len(done) < n:
                for records in (await self.answers.getmany(timeout_ms=200)).values():
                    for each in records:
                        if each.key == READY_KEY:
                            continue
                        conversation, _ = step_of(each.value)
                        if conversation in sent and conversation not in done:
                            done.add(conversation)
                            room.release()

        reader = asyncio.ensure_future(read())
        began = time.monotonic()
        try:
            for i in range(n):
                await room.acquire()
                delay = began + i / rate - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                conversation = f"{tag}-{i}"
                sent.add(conversation)
                value = record(conversation, 0, "request")
                await self.producer.send(self.topics["steps"], value, key=conversation.encode())
            await asyncio.wait_for(asyncio.shield(reader), DRAIN_TIMEOUT_S)
        finally:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader
        return time.monotonic() - began


async def _await_ready(consumer: AIOKafkaConsumer, pids: list[int], log_dir: Path) -> None:
    """Both processes answer READY_KEY once they hold their partitions."""
    ready, deadline = 0, time.monotonic() + READY_TIMEOUT_S
    while ready < len(pids):
        if time.monotonic() > deadline or not all(is_alive(pid) for pid in pids):
            raise RuntimeError(f"the Kafka relay baseline did not start; see {log_dir}")
        for records in (await consumer.getmany(timeout_ms=500)).values():
            ready += sum(each.key == READY_KEY for each in records)


async def relay_cpu(
    bootstrap: str,
    n: int,
    rate: float,
    in_flight: int,
    prefix: str,
    log_dir: Path | None = None,
) -> dict[str, float]:
    """CPU ms per conversation of the relay (and of the echo), n conversations at `rate`/s."""
    from bench.suite.stats import cpu_seconds

    topics = topic_names(prefix)
    await ensure_topics(
        bootstrap, [TopicSpec(name, CONVERSATION_PARTITIONS) for name in topics.values()]
    )
    log_dir = log_dir or Path(tempfile.gettempdir())
    producer = clients.producer(bootstrap)
    answers = clients.consumer(bootstrap, group_id=None, fetch_max_wait_ms=RELAY_FETCH_MAX_WAIT_MS)
    pids: list[int] = []
    try:
        await producer.start()
        await answers.start()
        await _at_end(
            answers, *(TopicPartition(topics["answers"], p) for p in range(CONVERSATION_PARTITIONS))
        )
        for role in ("relay", "echo"):
            log_path = log_dir / f"{prefix}{role}.log"
            pids.append(spawn(_argv(role, bootstrap, prefix), log_path, _child_env()).pid)
        await _await_ready(answers, pids, log_dir)
        drive = _Drive(producer, answers, topics, in_flight)
        await drive.run("warm", WARMUP, rate)
        before = [cpu_seconds(pid) for pid in pids]
        wall = await drive.run("relay", n, rate)
        after = [cpu_seconds(pid) for pid in pids]
    finally:
        for pid in pids:
            stop_pid(pid, "bench.baselines.kafka_relay", grace_s=10.0)
        await clients.stop_consumer(answers)
        await producer.stop()
    relay, echo = (a - b for a, b in zip(after, before, strict=True))
    return {
        "relay_ms_per_conversation": relay * 1000 / n,
        "echo_ms_per_conversation": echo * 1000 / n,
        "conversations_per_s": n / wall,
        "rate": rate,
    }


def main(argv: list[str] | None = None) -> None:
    """`relay` or `echo`: one side of the baseline (started by `relay_cpu`)."""
    parser = argparse.ArgumentParser(prog="python -m bench.baselines.kafka_relay")
    parser.add_argument("role", choices=("relay", "echo"))
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--prefix", default="")
    parser.add_argument("--max-lifetime-s", type=float, default=MAX_LIFETIME_S)
    args = parser.parse_args(argv)
    topics = topic_names(args.prefix)
    source, commit_s, handle, wait_ms = (  # each side waits on fetches as its platform role
        (topics["steps"], COMMIT_INTERVAL_S, _relay_one, RELAY_FETCH_MAX_WAIT_MS)
        if args.role == "relay"
        else (topics["calls"], 0.2, _echo_one, ECHO_FETCH_MAX_WAIT_MS)
    )
    event_loop.use(get_settings().event_loop)  # the platform's loop, as the platform's processes
    asyncio.run(
        _serve(args.prefix, args.bootstrap, source, commit_s, handle, args.max_lifetime_s, wait_ms)
    )


if __name__ == "__main__":
    main()
