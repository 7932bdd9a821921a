"""What the orchestrator's state machine counts: one frozen type per fact.

The machine stays pure by returning these instead of touching metrics;
`monitoring.metrics.record_observations` maps each type onto its metric, and a type
without a mapping fails the type check (`assert_never`), not a log line at run time.
Label fields hold bounded values only (tool names, statuses, outcomes), never ids.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

ToolOutcome = Literal[
    "ok",
    "error",
    "timeout",
    "late",
    "duplicate",
    "fatal",
    "refused_cap",
    "refused_allowlist",
    "refused_schema",
    "unknown",
]
TokenKind = Literal["input", "output", "cache_write", "cache_read"]
DropReason = Literal["late", "duplicate", "stale_delivery_failure"]


@dataclass(frozen=True)
class ConversationFinished:
    status: str
    stop_reason: str = "none"


@dataclass(frozen=True)
class IterationsUsed:
    """Model calls a finished conversation made."""

    count: int


@dataclass(frozen=True)
class ToolCallOutcome:
    tool: str
    outcome: ToolOutcome


@dataclass(frozen=True)
class ToolRoundTrip:
    """Seconds from a tool call's dispatch to its result being applied."""

    tool: str
    seconds: float


@dataclass(frozen=True)
class CallsInTurn:
    """tool_use blocks in one model turn."""

    count: int


@dataclass(frozen=True)
class ModelRecovery:
    """The model called a tool again right after that tool returned is_error."""

    tool: str


@dataclass(frozen=True)
class TokensUsed:
    model: str
    kind: TokenKind
    count: int


@dataclass(frozen=True)
class Spend:
    model: str
    usd: float


@dataclass(frozen=True)
class DuplicateRequest:
    """A request arrived for a conversation id already in use."""


@dataclass(frozen=True)
class CallRedriven:
    kind: Literal["model", "tool"]
    tool: str = "none"


@dataclass(frozen=True)
class ModelResultDropped:
    reason: DropReason


Observation = (
    ConversationFinished
    | IterationsUsed
    | ToolCallOutcome
    | ToolRoundTrip
    | CallsInTurn
    | ModelRecovery
    | TokensUsed
    | Spend
    | DuplicateRequest
    | CallRedriven
    | ModelResultDropped
)
