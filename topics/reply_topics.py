"""Which topics a request may name as its `reply_topic`: a policy, not a free string.

The orchestrator can write to every internal topic, so a caller-named topic must be a
legal Kafka name, must not be Kafka's own (`__*`) or one of the platform's, and must
match one of the configured patterns (shell-style, relative to the topic prefix).
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Sequence
from dataclasses import dataclass

from topics.names import Topics

LEGAL_TOPIC_NAME = re.compile(r"^[a-zA-Z0-9._-]{1,249}$")
DEFAULT_REPLY_TOPIC_PATTERNS = ("agent.responses", "replies.*")
"""`agent.responses`, or any topic under `replies.` that its owner created."""
_INTERNAL_FAMILIES = ("agent.", "model.", "tool.")


@dataclass(frozen=True)
class ReplyTopicPolicy:
    """Decides whether a request may have its response written to a topic."""

    topics: Topics
    patterns: Sequence[str] = DEFAULT_REPLY_TOPIC_PATTERNS
    internal_prefixes: Sequence[str] = ()
    """Names of other internal topics start with these (e.g. the orchestrator's app id)."""

    @property
    def default(self) -> str:
        return self.topics.agent_responses.name

    def problem(self, topic: str | None) -> str | None:
        """Why `topic` may not be a reply topic, or None when it may (None = default)."""
        if topic is None or topic == self.default:
            return None
        shown = repr(topic[:80] + ("..." if len(topic) > 80 else ""))
        if not LEGAL_TOPIC_NAME.match(topic) or topic in (".", ".."):
            return f"reply_topic {shown} is not a legal Kafka topic name (1-249 of [a-zA-Z0-9._-])"
        if topic.startswith("__"):
            return f"reply_topic {shown} is a Kafka-internal topic"
        if self._internal(topic):
            return f"reply_topic {shown} is one of the platform's internal topics"
        relative = topic.removeprefix(self.topics.prefix) if self.topics.prefix else topic
        matches = topic.startswith(self.topics.prefix) and any(
            fnmatch.fnmatchcase(relative, pattern) for pattern in self.patterns
        )
        if not matches:
            allowed = ", ".join(f"{self.topics.prefix}{p}" for p in self.patterns)
            return f"reply_topic {shown} is not allowed; allowed: {allowed}"
        return None

    def resolve(self, topic: str | None) -> str:
        """The topic to answer on: `topic` when allowed, else the default."""
        return topic if topic is not None and self.problem(topic) is None else self.default

    def _internal(self, topic: str) -> bool:
        relative = topic.removeprefix(self.topics.prefix)
        platform = topic.startswith(self.topics.prefix) and relative.startswith(_INTERNAL_FAMILIES)
        return platform or topic.startswith(tuple(p for p in self.internal_prefixes if p))
