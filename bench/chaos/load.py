"""The load: what is submitted, at what pace, and the bookkeeping of what came back."""

from __future__ import annotations

import asyncio
import json
import random
import re
import time
from dataclasses import dataclass, field
from typing import Any

from aiokafka.structs import ConsumerRecord

from bench.chaos_names import TOOL_NAME

TOOL_FAILED = re.compile(rf"\b{TOOL_NAME}\([^)]*\) failed: ([^;]*)")
"""How the local model's final answer reports a failed call (policy.results_summary)."""


@dataclass(frozen=True)
class Load:
    """How many conversations, how fast, and how long each may take before it counts lost."""

    conversations: int = 1000
    rate: float = 33.0
    timeout_s: float = 90.0
    """Each request's own `timeout_s`: past it the platform must answer `timed_out`."""
    margin_s: float = 30.0
    """Beyond the request's timeout, how long to wait before calling it never answered."""
    drain_timeout_s: float = 30.0
    seed: int = 0

    @property
    def window_s(self) -> float:
        return self.conversations / self.rate


def prompt_for(index: int, rng: random.Random) -> str:
    """One or two chaos-tool calls in the first model turn (the local model splits on 'and')."""
    first = f"record a chaos entry for order {index} item 1"
    if rng.random() < 0.5:
        return first
    return f"{first} and record a chaos entry for order {index} item 2"


def request_payload(conversation_id: str, prompt: str, timeout_s: float) -> bytes:
    """An AgentRequest as any Kafka client would write it (docs/protocol.md), as JSON."""
    request = {
        "schema_version": 1,
        "conversation_id": conversation_id,
        "prompt": prompt,
        "tools": [TOOL_NAME],
        "timeout_s": timeout_s,
    }
    return json.dumps(request).encode()


@dataclass(frozen=True)
class Answer:
    """One response as read: when it arrived (monotonic), its status, when it was produced
    (the record's CreateTime, unix seconds: the orchestrator's clock, on this host)."""

    received: float
    status: str
    produced: float
    tool_failed: str = ""
    """Why the answer says a chaos call failed (e.g. interrupted, then timed out)."""


@dataclass
class Tracker:
    """What was sent and what came back, timed with the monotonic clock."""

    sent: dict[str, float] = field(default_factory=dict)
    deadlines: dict[str, float] = field(default_factory=dict)
    send_failed: dict[str, str] = field(default_factory=dict)
    responses: dict[str, list[Answer]] = field(default_factory=dict)
    read_upto: dict[int, int] = field(default_factory=dict)
    undecodable: int = 0

    def submitted(self, cid: str, deadline_s: float) -> None:
        now = time.monotonic()
        self.sent[cid] = now
        self.deadlines[cid] = now + deadline_s

    def delivery(self, cid: str, future: asyncio.Future[Any]) -> None:
        """A request the broker never acknowledged is not the platform's to lose."""
        if future.cancelled() or future.exception() is not None:
            self.send_failed[cid] = repr(None if future.cancelled() else future.exception())
            self.sent.pop(cid, None)
            self.deadlines.pop(cid, None)

    def answered(self, record: ConsumerRecord) -> None:
        self.read_upto[record.partition] = record.offset + 1
        try:
            response = json.loads(record.value or b"")
            cid, status = str(response["conversation_id"]), str(response["status"])
        except (ValueError, KeyError, TypeError):
            self.undecodable += 1
            return
        failed = TOOL_FAILED.search(str(response.get("text") or ""))
        answer = Answer(
            time.monotonic(), status, record.timestamp / 1000, failed[1][:200] if failed else ""
        )
        self.responses.setdefault(cid, []).append(answer)

    def in_flight(self) -> set[str]:
        return {cid for cid in self.sent if cid not in self.responses}

    def settled(self, now: float) -> bool:
        """Every sent conversation is answered or past its deadline plus margin."""
        return all(cid in self.responses or now > self.deadlines[cid] for cid in self.sent)
