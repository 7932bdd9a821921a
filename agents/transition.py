"""The vocabulary of the state machine: its inputs, its context and what a step returns.

Everything here is data: a `Transition` carries the new state, the messages to send
(each to a concrete topic) and typed observations for monitoring; the orchestrator's
edge performs them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from agents.policy import Defaults, Limits
from agents.state import ConversationState, FinishedConversation
from monitoring.observations import Observation
from topics.messages import (
    AgentEvent,
    AgentRequest,
    DeliveryFailure,
    EventType,
    Message,
    ModelResult,
    Tick,
    ToolResult,
    ToolSpec,
    Usage,
)
from topics.names import Topics
from topics.reply_topics import ReplyTopicPolicy

Event = AgentRequest | ModelResult | ToolResult | Tick | DeliveryFailure
State = ConversationState | FinishedConversation
DEFAULT_TOPICS = Topics()
DEFAULT_REPLY_POLICY = ReplyTopicPolicy(DEFAULT_TOPICS)


@dataclass(frozen=True)
class Emit:
    """A message to send to `topic` under `key`."""

    topic: str
    key: str
    message: Message


@dataclass(frozen=True)
class Context:
    """Everything outside the state that a decision may depend on."""

    now: float
    defaults: Defaults
    registry: Mapping[str, ToolSpec]
    price: Callable[[str, Usage], float] = lambda _model, _usage: 0.0
    reply_topics: ReplyTopicPolicy = DEFAULT_REPLY_POLICY
    topics: Topics = DEFAULT_TOPICS
    published_at: float | None = None
    """When the event's record was published (its Kafka timestamp), when known."""


@dataclass
class Transition:
    """The new state plus what to send and what to count; `forget` deletes the entry."""

    state: State | None
    emits: list[Emit] = field(default_factory=list)
    observations: list[Observation] = field(default_factory=list)
    forget: bool = False

    def emit(self, topic: str, key: str, message: Message) -> None:
        self.emits.append(Emit(topic, key, message))

    def observe(self, observation: Observation) -> None:
        self.observations.append(observation)

    def event(self, ctx: Context, type_: EventType, **fields: Any) -> None:
        """Report progress of this conversation on agent.events."""
        assert self.state is not None
        self.emit(
            ctx.topics.agent_events.name,
            self.state.conversation_id,
            AgentEvent(
                conversation_id=self.state.conversation_id,
                type=type_,
                at=ctx.now,
                iteration=self.state.iteration,
                **fields,
            ),
        )


def running(t: Transition) -> ConversationState:
    """The transition's state, which the caller knows to be a conversation in flight."""
    assert isinstance(t.state, ConversationState)
    return t.state


def limits_of(state: ConversationState, ctx: Context) -> Limits:
    return Limits.of(state.options, ctx.defaults)


def lease(ctx: Context, deadline_at: float, sends: int) -> float | None:
    """When to re-publish a call sent now for the `sends`-th time, unless its deadline
    comes first. Each lease doubles: a call that is merely queued behind a backlog is
    not re-published again and again, adding to the backlog."""
    lease_until = ctx.now + ctx.defaults.call_lease_s * 2 ** min(sends - 1, 16)
    return lease_until if lease_until < deadline_at else None
