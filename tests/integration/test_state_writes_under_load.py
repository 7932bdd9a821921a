"""Hundreds of conversations at a commit: their states are stored without holding up the
stream.

The orchestrator stores the states it holds just before each commit. Through faust's
`send_changelog` they queued in faust's producer buffer, and while more than 100 waited
there, faust's conductor held every incoming event ("producer buffer full", up to 0.3 s
per commit). They now go to a producer of their own (`agents.sending.StateProducer`).
"""

from __future__ import annotations

import asyncio
import uuid

import pytest

from agentstream.client import AgentClient
from agentstream.stack import Stack
from topics.messages import AgentRequest, AgentResponse

pytestmark = pytest.mark.integration

BURST = 400
FULL_BUFFER = "producer buffer full"


async def test_a_burst_is_answered_without_stalls_behind_state_writes(
    client: AgentClient, stack: Stack
) -> None:
    log = stack.config.log_dir / "orchestrator.log"
    stalls_before = log.read_text(errors="replace").count(FULL_BUFFER)
    burst = uuid.uuid4().hex[:8]
    ids = {f"burst-{burst}-{i}" for i in range(BURST)}
    await asyncio.gather(
        *(
            client.submit(AgentRequest(conversation_id=cid, prompt="[scenario:stop-end-turn] hi"))
            for cid in ids
        )
    )
    answered = {
        message.conversation_id
        async for message in client.follow(ids, timeout_s=120)
        if isinstance(message, AgentResponse) and message.status == "completed"
    }
    assert answered == ids
    assert log.read_text(errors="replace").count(FULL_BUFFER) == stalls_before
