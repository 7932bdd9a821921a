"""The platform on a secured broker: SASL_SSL with SCRAM, TLS verified against the
project's CA, KRaft's StandardAuthorizer refusing what no ACL allows."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from aiokafka.errors import KafkaError

from agentstream.broker import Secured
from agentstream.client import AgentClient, answer
from agentstream.stack import Stack, StackConfig
from tests.support.secured import SECURE_USERS, settings_for
from topics import clients
from topics.messages import AgentRequest

pytestmark = pytest.mark.integration
GUEST = ("guest", SECURE_USERS["guest"])
"""A user who can log in and has no ACL at all."""


async def test_the_whole_tool_loop_completes_over_sasl_ssl(
    secured: Secured, tmp_path: Path
) -> None:
    prefix = f"sec{uuid.uuid4().hex[:6]}."
    env = {**secured.env(), "AGENTSTREAM_TOPIC_PREFIX": prefix}
    stack = Stack(
        StackConfig(
            bootstrap=secured.connection(),
            prefix=prefix,
            log_dir=tmp_path / "logs",
            tools={"calculator": 1},
            metrics=False,
            env=env,
        )
    )
    await asyncio.to_thread(stack.start)
    try:
        await stack.wait_for_tools(["calculator"], 90)
        settings = settings_for(secured.connection(), prefix)
        client = AgentClient(settings)
        await client.start()
        try:
            request = AgentRequest(
                conversation_id=f"sec-{uuid.uuid4().hex[:8]}",
                prompt="compute 6*7",
                tools=["calculator"],
            )
            response = await answer(client, request, 120)
        finally:
            await client.stop()
        assert response.status == "completed" and "42" in response.text
    finally:
        stack.stop()


async def test_a_client_without_tls_and_sasl_cannot_use_the_broker(secured: Secured) -> None:
    plaintext = secured.bootstrap_servers  # the SASL_SSL listener, spoken to in plaintext
    producer = clients.producer(plaintext, request_timeout_ms=3000)
    with pytest.raises(KafkaError):
        await asyncio.wait_for(producer.start(), 20)
    await producer.stop()


async def test_a_user_without_acls_may_not_write(secured: Secured) -> None:
    producer = clients.producer(secured.connection(*GUEST))
    try:
        with pytest.raises(KafkaError, match="Authorization"):
            await asyncio.wait_for(producer.start(), 20)
    finally:
        await producer.stop()


def test_a_wrong_password_fails_at_start_with_one_line(secured: Secured) -> None:
    env = {**secured.env("admin", "not-the-password"), "PYTHONUNBUFFERED": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "agentstream.cli", "topics", "create"],
        env={**_base_env(), **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode != 0
    errors = [line for line in done.stderr.splitlines() if line.startswith("agentstream topics")]
    assert len(errors) == 1, done.stderr[-2000:]
    assert "SaslAuthenticationFailed" in errors[0]
    assert "not-the-password" not in done.stdout + done.stderr


def _base_env() -> dict[str, str]:
    return {key: value for key, value in os.environ.items() if not key.startswith("AGENTSTREAM")}


def test_acls_apply_by_a_user_who_may_not_alter_acls_fails_with_one_line(
    secured: Secured,
) -> None:
    env = {**_base_env(), **secured.env(*GUEST), "AGENTSTREAM_TOPIC_PREFIX": "guest."}
    done = subprocess.run(
        [sys.executable, "-m", "agentstream.cli", "acls", "apply", "--tool", "calculator"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    errors = [line for line in done.stderr.splitlines() if line.startswith("agentstream acls")]
    assert len(errors) == 1, done.stderr[-2000:]
    assert "AuthorizationFailed" in errors[0]
    assert GUEST[1] not in done.stdout + done.stderr
