"""The floor for one request/reply hop over Kafka: plain aiokafka, an echo process, no platform.

`raw_round_trips` measures what any request/reply over the same broker costs at least: a
produce (acks=all, idempotent, linger 0), the echo's fetch, its produce, and the caller's
fetch. Clients come from `topics.clients`, so they connect exactly as the platform's do.
`raw_fanout` is the same for a fan-out turn: the Kafka hops of a conversation whose one
turn is k parallel sleeps, with nothing else in between.

    python -m bench.baselines.raw_kafka echo --bootstrap HOST:PORT --prefix PREFIX
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from agentstream.processes import is_alive, spawn, stop_pid
from config import event_loop
from config.settings import get_settings
from topics import clients
from topics.admin import ensure_topics
from topics.names import TopicSpec

WARMUP = 200
"""Round trips run before timing, so connections, metadata and caches have settled (as
many as the platform's and Celery's warm-up in the hop phase)."""
FETCH_MAX_WAIT_MS = 5
"""Small, so neither side sits in a long poll: the floor should be as low as Kafka allows."""
PAYLOAD = b"x" * 256
"""About the size of a small tool call; the hop, not the bytes, is what is measured."""
SLEEP = b"sleep:"
"""A request whose value is `sleep:<seconds>` is answered after that long (`raw_fanout`)."""
READY_KEY = b"__ready__"
"""The echo's first reply: it is positioned on the requests topic and will answer."""
READY_TIMEOUT_S = 60.0
ROUND_TRIP_TIMEOUT_S = 10.0
ECHO_MAX_LIFETIME_S = 3600.0
"""An echo whose caller died without stopping it still exits by itself."""
REPO_ROOT = Path(__file__).resolve().parents[2]


def topic_names(prefix: str) -> tuple[str, str]:
    """The requests and replies topics under `prefix`."""
    return f"{prefix}raw.requests", f"{prefix}raw.replies"


async def _at_end(consumer: AIOKafkaConsumer, *tps: TopicPartition) -> None:
    """Assign `tps` and resolve their positions to the end, so only new records are read."""
    consumer.assign(list(tps))
    await consumer.seek_to_end(*tps)
    for tp in tps:
        await consumer.position(tp)


async def _next_with_key(consumer: AIOKafkaConsumer, key: bytes) -> None:
    """Read until a record with `key` arrives; anything else (a stale reply) is skipped."""
    while True:
        batch = await consumer.getmany(timeout_ms=1000)
        for records in batch.values():
            if any(r.key == key for r in records):
                return


async def _round_trip(
    producer: AIOKafkaProducer, consumer: AIOKafkaConsumer, topic: str, key: bytes
) -> float:
    """One request, its reply: seconds from send to the reply in hand."""
    began = time.perf_counter()
    ack = await producer.send(topic, PAYLOAD, key=key)
    await asyncio.wait_for(_next_with_key(consumer, key), ROUND_TRIP_TIMEOUT_S)
    await ack
    return time.perf_counter() - began


def _echo_argv(bootstrap: str, prefix: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "bench.baselines.raw_kafka",
        "echo",
        "--bootstrap",
        bootstrap,
        "--prefix",
        prefix,
    ]


def _child_env() -> dict[str, str]:
    """This environment, with the repository importable from any working directory."""
    path = os.environ.get("PYTHONPATH", "")
    return {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (str(REPO_ROOT), path) if p)}


async def _await_ready(consumer: AIOKafkaConsumer, pid: int, log_path: Path) -> None:
    """Wait for the echo's ready record; fail fast if the echo died."""
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if not is_alive(pid):
            raise RuntimeError(f"raw Kafka echo exited before it was ready; see {log_path}")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(_next_with_key(consumer, READY_KEY), 1.0)
            return
    raise TimeoutError(f"raw Kafka echo not ready after {READY_TIMEOUT_S:g}s; see {log_path}")


@contextlib.asynccontextmanager
async def _echo_session(
    bootstrap: str, prefix: str, log_dir: Path | None
) -> AsyncIterator[tuple[AIOKafkaProducer, AIOKafkaConsumer, str]]:
    """A running echo process, and the caller's producer and consumer positioned on its
    replies: (producer, consumer, requests topic). The echo is stopped by PID on exit."""
    requests, replies = topic_names(prefix)
    await ensure_topics(bootstrap, [TopicSpec(requests, 1), TopicSpec(replies, 1)])
    log_path = (log_dir or Path(tempfile.gettempdir())) / f"{prefix}raw-echo.log"
    producer = clients.producer(bootstrap)
    consumer = clients.consumer(bootstrap, group_id=None, fetch_max_wait_ms=FETCH_MAX_WAIT_MS)
    echo = None
    try:
        await producer.start()
        await consumer.start()
        await _at_end(consumer, TopicPartition(replies, 0))
        echo = spawn(_echo_argv(bootstrap, prefix), log_path, env=_child_env())
        await _await_ready(consumer, echo.pid, log_path)
        for i in range(WARMUP):
            await _round_trip(producer, consumer, requests, b"warm-%d" % i)
        yield producer, consumer, requests
    finally:
        if echo is not None:
            stop_pid(echo.pid, "bench.baselines.raw_kafka", grace_s=10.0)
        await consumer.stop()
        await producer.stop()


async def raw_round_trips(
    bootstrap: str, n: int, prefix: str, *, log_dir: Path | None = None
) -> list[float]:
    """`n` sequential request/reply round trips through an echo process, seconds each."""
    async with _echo_session(bootstrap, prefix, log_dir) as (producer, consumer, requests):
        return [await _round_trip(producer, consumer, requests, b"%d" % i) for i in range(n)]


async def keep_busy(
    bootstrap: str, seconds: float, prefix: str, *, log_dir: Path | None = None
) -> int:
    """Sequential round trips through an echo process for `seconds`; how many ran.

    A broker fresh from its start runs its request paths interpreted until the JVM has
    compiled them: in the first 15 s of sequential tool hops after a start, each Kafka
    hop took 1.9 ms at first and 1.0 ms at the end (p50 per 100 hops, 2 cores). Traffic
    like this before anything is measured lets every phase, and every baseline, meet a
    broker in the state a long-running one is in."""
    deadline = time.monotonic() + seconds
    count = 0
    async with _echo_session(bootstrap, prefix, log_dir) as (producer, consumer, requests):
        while time.monotonic() < deadline:
            await _round_trip(producer, consumer, requests, b"busy-%d" % count)
            count += 1
    return count


async def _all_keys(consumer: AIOKafkaConsumer, keys: set[bytes]) -> None:
    """Read until a record with each of `keys` has arrived."""
    while keys:
        batch = await consumer.getmany(timeout_ms=1000)
        for records in batch.values():
            keys.difference_update(r.key for r in records)


async def raw_fanout(
    bootstrap: str, k: int, sleep_s: float, reps: int, prefix: str, *, log_dir: Path | None = None
) -> list[float]:
    """The Kafka hops of one fan-out turn, nothing else, `reps` times one after another:
    a round trip through the echo (the request in, the answer out), then `k` requests it
    answers each after sleeping `sleep_s` (the calls out, the results back, one at a time
    idle for `sleep_s` as the platform's orchestrator is). Seconds of wall per turn."""
    walls = []
    async with _echo_session(bootstrap, prefix, log_dir) as (producer, consumer, requests):
        for rep in range(reps):
            began = time.perf_counter()
            await _round_trip(producer, consumer, requests, b"turn-%d" % rep)
            keys = {b"turn-%d-%d" % (rep, i) for i in range(k)}
            acks = [
                await producer.send(requests, b"%s%g" % (SLEEP, sleep_s), key=key) for key in keys
            ]
            await asyncio.wait_for(_all_keys(consumer, set(keys)), sleep_s + ROUND_TRIP_TIMEOUT_S)
            await asyncio.gather(*acks)
            walls.append(time.perf_counter() - began)
    return walls


async def echo(bootstrap: str, prefix: str, max_lifetime_s: float = ECHO_MAX_LIFETIME_S) -> None:
    """Answer each request with a reply of the same key and value until SIGTERM; a
    `sleep:<seconds>` request is answered (with an empty value) after that long."""
    requests, replies = topic_names(prefix)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    producer = clients.producer(bootstrap)
    consumer = clients.consumer(bootstrap, group_id=None, fetch_max_wait_ms=FETCH_MAX_WAIT_MS)
    await producer.start()
    await consumer.start()
    try:
        await _at_end(consumer, TopicPartition(requests, 0))
        await producer.send_and_wait(replies, b"", key=READY_KEY)
        deadline = time.monotonic() + max_lifetime_s
        sleepers: set[asyncio.Task[None]] = set()

        async def reply_later(seconds: float, key: bytes | None) -> None:
            await asyncio.sleep(seconds)
            await producer.send(replies, b"", key=key)

        while not stop.is_set() and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=200)
            acks = []
            for r in (r for part in batch.values() for r in part):
                if r.value is not None and r.value.startswith(SLEEP):
                    task = asyncio.create_task(reply_later(float(r.value[len(SLEEP) :]), r.key))
                    sleepers.add(task)
                    task.add_done_callback(sleepers.discard)
                else:
                    acks.append(await producer.send(replies, r.value, key=r.key))
            await asyncio.gather(*acks)
    finally:
        await consumer.stop()
        await producer.stop()


def main(argv: list[str] | None = None) -> None:
    """`echo`: run the echo side of the round trip (started by `raw_round_trips`)."""
    parser = argparse.ArgumentParser(prog="python -m bench.baselines.raw_kafka")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("echo", help="answer raw.requests on raw.replies")
    run.add_argument("--bootstrap", required=True)
    run.add_argument("--prefix", default="")
    run.add_argument("--max-lifetime-s", type=float, default=ECHO_MAX_LIFETIME_S)
    args = parser.parse_args(argv)
    event_loop.use(get_settings().event_loop)  # the platform's loop, as the platform's processes
    asyncio.run(echo(args.bootstrap, args.prefix, args.max_lifetime_s))


if __name__ == "__main__":
    main()
