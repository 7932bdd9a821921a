"""Every orchestrator instance's full copy of the tools' compacted registry topics.

Each tool publishes its spec on its own `tool.<name>.registry` topic (so an ACL can keep
one tool's workers from rewriting another's entry). A plain aiokafka reader with no
consumer group (every instance must see every tool) follows every topic of that pattern
from its beginning, picking up new tools' topics as they appear; `ready` is set once it
has caught up with what existed at start. The format stays owned by `topics/`, so tool
workers never depend on Faust's changelog conventions. Any process in any language may
publish an entry, so each one is validated as it is read (bounded decode, name equals key
and topic, a usable JSON schema); a bad entry is ignored with a log line and a metric,
and the previous one for that name stays.
"""

from __future__ import annotations

import asyncio
import logging

from aiokafka import ConsumerRecord

from agents.schemas import schema_error
from monitoring import metrics
from topics.codec import DecodeError, decode
from topics.connection import Target
from topics.follow import follow
from topics.messages import ToolSpec
from topics.names import Topics

log = logging.getLogger(__name__)


AVAILABLE = "Tool %s is now available."
"""Logged once per tool as it is first offered (a stack waits on it before sending)."""


class RegistryView:
    """tool name -> latest ToolSpec, kept current by tailing the registry topics."""

    def __init__(self, bootstrap: Target, topics: Topics) -> None:
        self.tools: dict[str, ToolSpec] = {}
        self.ready = asyncio.Event()
        self._bootstrap, self._pattern = bootstrap, topics.tool_registry_pattern

    async def run(self) -> None:
        loaded = asyncio.Event()
        await follow(
            self._bootstrap, self._pattern, self._apply, loaded, lambda: self._ready(loaded)
        )

    def _ready(self, loaded: asyncio.Event) -> None:
        if loaded.is_set() and not self.ready.is_set():
            self.ready.set()
            log.info("Tool registry loaded: %s.", ", ".join(sorted(self.tools)) or "none")

    def _apply(self, record: ConsumerRecord) -> None:
        key, value, topic = record.key, record.value, self._pattern.match(record.topic)
        if key is None or topic is None:
            return
        name = key.decode(errors="replace")
        if name != topic.group(1):
            self._reject(name, "wrong_topic", f"it was published on {record.topic!r}")
            return
        if value is None:
            if self.tools.pop(name, None) is not None:  # tombstone: the tool was retired
                metrics.TOOL_REGISTERED.remove(name)
            return
        try:
            spec = decode(value, ToolSpec)
        except DecodeError as exc:
            self._reject(name, "undecodable", str(exc))
            return
        if spec.name != name:
            self._reject(name, "name_mismatch", f"its key differs from its name {spec.name!r}")
            return
        problem = schema_error(spec.input_schema)
        if problem:
            self._reject(name, "invalid_schema", f"input_schema is not a JSON schema: {problem}")
            return
        if name not in self.tools:
            log.info(AVAILABLE, name)
            metrics.TOOL_REGISTERED.labels(name).set(1)
        self.tools[name] = spec

    @staticmethod
    def _reject(name: str, reason: str, detail: str) -> None:
        metrics.REGISTRY_REJECTED.labels(reason).inc()
        log.warning("Ignoring registry entry %r: %s.", name[:100], detail[:300])
