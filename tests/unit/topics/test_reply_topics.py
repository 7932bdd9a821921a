"""The reply-topic policy: allowlisted patterns, never internal or illegal names."""

from __future__ import annotations

import pytest

from topics.names import Topics
from topics.reply_topics import ReplyTopicPolicy

POLICY = ReplyTopicPolicy(Topics("p."), internal_prefixes=("p.agentstream-orchestrator-",))


@pytest.mark.parametrize(
    "topic", [None, "p.agent.responses", "p.replies.billing", "p.replies.a-b_c.9"]
)
def test_allowed(topic: str | None) -> None:
    assert POLICY.problem(topic) is None


@pytest.mark.parametrize(
    ("topic", "reason"),
    [
        ("bad topic!", "not a legal Kafka topic name"),
        ("r" * 300, "not a legal Kafka topic name"),
        ("..", "not a legal Kafka topic name"),
        ("__consumer_offsets", "Kafka-internal"),
        ("__transaction_state", "Kafka-internal"),
        ("p.agent.steps", "internal topics"),
        ("p.agent.events", "internal topics"),
        ("p.agent.dlq", "internal topics"),
        ("p.agent.requests", "internal topics"),
        ("p.model.calls", "internal topics"),
        ("p.tool.registry", "internal topics"),
        ("p.tool.calculator.calls", "internal topics"),
        ("p.agentstream-orchestrator-conversations-changelog", "internal topics"),
        ("p.billing.replies", "not allowed; allowed: p.agent.responses, p.replies.*"),
        ("replies.x", "not allowed"),
        ("p.replies", "not allowed"),
    ],
)
def test_refused(topic: str, reason: str) -> None:
    problem = POLICY.problem(topic)
    assert problem is not None and reason in problem
    assert POLICY.resolve(topic) == "p.agent.responses"


def test_patterns_widen_the_allowlist_but_never_to_internal_topics() -> None:
    wide = ReplyTopicPolicy(Topics(), patterns=("*",))
    assert wide.problem("team-a.answers") is None
    assert wide.problem("agent.steps") is not None
    assert wide.problem("__consumer_offsets") is not None
