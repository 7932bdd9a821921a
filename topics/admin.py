"""Create the platform's topics, idempotently."""

from __future__ import annotations

import contextlib

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from topics.names import Topics, TopicSpec


async def ensure_topics(bootstrap: str, specs: list[TopicSpec]) -> list[str]:
    """Create the topics that do not exist yet; returns the names created."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        wanted = [s for s in specs if s.name not in existing]
        if not wanted:
            return []
        new = [NewTopic(s.name, s.partitions, 1, topic_configs=s.config) for s in wanted]
        # Another process may win the race; the topics exist either way.
        with contextlib.suppress(TopicAlreadyExistsError):
            await admin.create_topics(new)
        return [s.name for s in wanted]
    finally:
        await admin.close()


def platform_topics(topics: Topics, tools: list[str]) -> list[TopicSpec]:
    """The core topics plus one calls topic per tool."""
    return [*topics.core(), *(topics.tool_calls(t) for t in tools)]
