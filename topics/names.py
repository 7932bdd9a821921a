"""Topic names, partition counts and configs; the only place that spells a topic name."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cached_property

CONVERSATION_PARTITIONS = 4
"""agent.requests and agent.steps must match so one orchestrator owns a conversation."""
TOOL_PARTITIONS = 4
MAX_MESSAGE_BYTES = 8 * 1024 * 1024
"""Transcripts ride on model calls and table entries: raised on purpose from Kafka's 1 MiB."""
MAX_PAYLOAD_BYTES = MAX_MESSAGE_BYTES - 4096
"""The largest value the platform produces: the rest is room for the key and record framing."""
JOURNAL_RETENTION_MS = 24 * 60 * 60 * 1000
NAME = r"[a-zA-Z0-9_-]{1,64}"
"""A tool's or a client's name: it becomes part of topic and group names."""
TOOL_NAME_PATTERN = re.compile(rf"^{NAME}$")


@dataclass(frozen=True)
class TopicSpec:
    """One topic: its full name, partitions and topic-level configs."""

    name: str
    partitions: int
    config: dict[str, str] = field(default_factory=dict)


def _standard(name: str, partitions: int) -> TopicSpec:
    return TopicSpec(name, partitions, {"max.message.bytes": str(MAX_MESSAGE_BYTES)})


@dataclass(frozen=True)
class Topics:
    """The platform's topics under one namespace prefix (empty in production).

    The fixed topics are built once per instance: the orchestrator reads their names for
    every event it handles.
    """

    prefix: str = ""

    def _name(self, base: str) -> str:
        return f"{self.prefix}{base}"

    @cached_property
    def agent_requests(self) -> TopicSpec:
        return _standard(self._name("agent.requests"), CONVERSATION_PARTITIONS)

    @cached_property
    def agent_steps(self) -> TopicSpec:
        return _standard(self._name("agent.steps"), CONVERSATION_PARTITIONS)

    @cached_property
    def agent_responses(self) -> TopicSpec:
        return _standard(self._name("agent.responses"), CONVERSATION_PARTITIONS)

    @cached_property
    def agent_events(self) -> TopicSpec:
        return _standard(self._name("agent.events"), CONVERSATION_PARTITIONS)

    @cached_property
    def model_calls(self) -> TopicSpec:
        return _standard(self._name("model.calls"), CONVERSATION_PARTITIONS)

    @cached_property
    def dead_letters(self) -> TopicSpec:
        return _standard(self._name("agent.dlq"), 1)

    def tool_calls(self, tool: str) -> TopicSpec:
        """The calls topic of one tool; its workers form the group `tool_group(tool)`."""
        if not TOOL_NAME_PATTERN.match(tool):
            raise ValueError(f"invalid tool name {tool!r}: use 1-64 of [a-zA-Z0-9_-]")
        return _standard(self._name(f"tool.{tool}.calls"), TOOL_PARTITIONS)

    def tool_registry(self, tool: str) -> TopicSpec:
        """Where a tool's workers publish its ToolSpec (key: the tool name; compacted).

        One topic per tool, so an ACL can let a tool's workers write its entry and no
        other tool's: Kafka cannot restrict writes by record key.
        """
        name = self.tool_calls(tool).name.removesuffix(".calls") + ".registry"
        return TopicSpec(name, 1, {"cleanup.policy": "compact"})

    @property
    def tool_registry_pattern(self) -> re.Pattern[str]:
        """Matches every tool's registry topic; group 1 is the tool's name."""
        return re.compile(rf"^{re.escape(self._name('tool.'))}({NAME})\.registry$")

    def tool_journal(self, tool: str) -> TopicSpec:
        """Execution records of a tool that is not idempotent (key: tool_use_id).

        Compacted to one record per call; records older than a day are deleted, long
        after any call they describe has passed its deadline.
        """
        name = self.tool_calls(tool).name.removesuffix(".calls") + ".journal"
        config = {
            "max.message.bytes": str(MAX_MESSAGE_BYTES),
            "cleanup.policy": "compact,delete",
            "retention.ms": str(JOURNAL_RETENTION_MS),
        }
        return TopicSpec(name, TOOL_PARTITIONS, config)

    def reply_topic(self, client: str) -> TopicSpec:
        """A client's own topic for its responses (`reply_topic` in its requests); an ACL
        can let that client, and no other, read it."""
        if not TOOL_NAME_PATTERN.match(client):
            raise ValueError(f"invalid client name {client!r}: use 1-64 of [a-zA-Z0-9_-]")
        return _standard(f"{self.reply_prefix}{client}", 1)

    @property
    def reply_prefix(self) -> str:
        """What every client's reply topic starts with (the orchestrator may write them all)."""
        return self._name("replies.")

    def tool_group(self, tool: str) -> str:
        return self._name(f"tool-workers.{tool}")

    @property
    def model_group(self) -> str:
        return self._name("model-workers")

    def core(self) -> list[TopicSpec]:
        """Every topic that exists independently of which tools are deployed."""
        return [
            self.agent_requests,
            self.agent_steps,
            self.agent_responses,
            self.agent_events,
            self.model_calls,
            self.dead_letters,
        ]
