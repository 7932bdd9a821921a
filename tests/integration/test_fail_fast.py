"""Processes stop and fail fast: SIGTERM ends a busy orchestrator within seconds, and the
CLI answers a missing broker or missing topics with one line instead of hanging."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from aiokafka.admin import AIOKafkaAdminClient

from agentstream.broker import free_port
from agentstream.processes import is_alive, spawn, stop_pid
from tests.conftest import KafkaUnderTest
from tests.support.wire import Wire
from topics.admin import ensure_topics
from topics.names import Topics

pytestmark = pytest.mark.integration
CLI = [sys.executable, "-m", "agentstream.cli"]


def _env(bootstrap: str, prefix: str) -> dict[str, str]:
    return {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": bootstrap, "AGENTSTREAM_TOPIC_PREFIX": prefix}


async def test_sigterm_stops_an_orchestrator_with_hostile_and_pending_work(
    kafka: KafkaUnderTest, tmp_path: Path
) -> None:
    prefix = f"sig{uuid.uuid4().hex[:8]}."
    topics = Topics(prefix)
    await ensure_topics(kafka.bootstrap_servers, topics.core())
    process = spawn(
        [*CLI, "orchestrator"],
        tmp_path / "orchestrator.log",
        env=_env(kafka.bootstrap_servers, prefix),
    )
    try:
        async with Wire(kafka.bootstrap_servers, topics) as wire:
            refused = await wire.request(
                {"conversation_id": "bad-reply", "prompt": "hi", "reply_topic": "bad topic!"}
            )
            assert (await wire.response(refused, timeout_s=90))["status"] == "invalid_request"
            await wire.request(  # waits for a model call that no worker will answer
                {"conversation_id": "pending", "prompt": "hi", "reply_topic": f"{prefix}replies.x"}
            )
            await wire.wait_for(
                lambda: any(
                    e["conversation_id"] == "pending" for e in wire.on(topics.agent_events.name)
                ),
                30,
                "the pending conversation to start",
            )
        started = time.monotonic()
        stop_pid(process.pid, expect_in_cmdline="agentstream.cli", grace_s=30)
        took = time.monotonic() - started
    finally:
        if is_alive(process.pid):
            stop_pid(process.pid, expect_in_cmdline="agentstream.cli", grace_s=1)
    assert took < 10, (
        f"SIGTERM took {took:.1f}s\n{(tmp_path / 'orchestrator.log').read_text()[-3000:]}"
    )


def _cli(
    args: list[str], env: dict[str, str], timeout_s: float
) -> tuple[subprocess.CompletedProcess[str], float]:
    started = time.monotonic()
    done = subprocess.run(
        [*CLI, *args], env=env, capture_output=True, text=True, timeout=timeout_s, check=False
    )
    return done, time.monotonic() - started


async def test_submit_without_the_platform_topics_fails_at_once_and_creates_nothing(
    kafka: KafkaUnderTest,
) -> None:
    prefix = f"none{uuid.uuid4().hex[:8]}."
    done, took = _cli(
        ["submit", "hello", "--timeout", "5"], _env(kafka.bootstrap_servers, prefix), 60
    )
    assert done.returncode == 2 and took < 15
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert "do not exist" in done.stderr and "agentstream topics create" in done.stderr
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka.bootstrap_servers)
    await admin.start()
    try:
        assert not [t for t in await admin.list_topics() if t.startswith(prefix)]
    finally:
        await admin.close()


@pytest.mark.parametrize(
    "command", [["submit", "hi"], ["topics", "create"], ["worker", "--tool", "clock"]]
)
def test_commands_fail_with_one_line_when_no_broker_answers(command: list[str]) -> None:
    env = {**_env(f"127.0.0.1:{free_port()}", "x."), "AGENTSTREAM_CONNECT_TIMEOUT_S": "3"}
    done, took = _cli(command, env, 60)
    assert done.returncode == 2 and took < 20, done.stderr
    assert "Traceback" not in done.stderr
    assert (
        done.stderr.strip()
        .splitlines()[-1]
        .startswith(f"agentstream {command[0]}: error: no Kafka")
    )
