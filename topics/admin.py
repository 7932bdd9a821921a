"""Create the platform's topics, idempotently, and check they exist before using them."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Iterable
from typing import TypeVar

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaConnectionError, TopicAlreadyExistsError, for_code

from topics import clients
from topics.connection import Target
from topics.names import Topics, TopicSpec

T = TypeVar("T")
DEFAULT_CONNECT_TIMEOUT_S = 10.0


class BrokerUnavailable(ConnectionError):
    """No broker answered within the connect timeout; the message is one line for users."""


class MissingTopics(LookupError):
    """Topics the platform needs do not exist (and are never auto-created by clients)."""


async def within(work: Awaitable[T], timeout_s: float, bootstrap: Target) -> T:
    """Await a connection step, turning a hang or refusal into BrokerUnavailable."""
    try:
        return await asyncio.wait_for(work, timeout_s)
    except (TimeoutError, KafkaConnectionError, OSError) as exc:
        refused = await clients.refusal(bootstrap)
        if refused is not None:
            kafka = clients.connection(bootstrap)
            who = kafka.sasl_username or "a TLS client"
            raise BrokerUnavailable(
                f"Kafka at {kafka} refused the connection as {who} ({refused}); "
                "check the credentials and the CA"
            ) from exc
        raise BrokerUnavailable(
            f"no Kafka broker answered at {bootstrap} within {timeout_s:g}s "
            f"({type(exc).__name__}); is it running? (`agentstream broker start`)"
        ) from exc


@contextlib.asynccontextmanager
async def admin_session(
    bootstrap: Target, timeout_s: float = DEFAULT_CONNECT_TIMEOUT_S
) -> AsyncIterator[AIOKafkaAdminClient]:
    """A started admin client (its start bounded like every connection step), closed after."""
    admin = clients.admin(bootstrap)
    await within(admin.start(), timeout_s, bootstrap)
    try:
        yield admin
    finally:
        await admin.close()


def durability_config(min_insync_replicas: int) -> dict[str, str]:
    """Topic configs that make acks=all mean "on `min_insync_replicas` brokers"."""
    return {"min.insync.replicas": str(min_insync_replicas)}


async def ensure_topics(
    bootstrap: Target,
    specs: list[TopicSpec],
    timeout_s: float = DEFAULT_CONNECT_TIMEOUT_S,
    *,
    replication_factor: int = 1,
    min_insync_replicas: int = 1,
) -> list[str]:
    """Create the topics that do not exist yet; returns the names created.

    Replication is a deployment choice (settings), not part of a topic's spec: 1 on the
    local broker, 3 with `min_insync_replicas` 2 on a cluster, so one broker can be lost
    without losing an acknowledged message or refusing writes.
    """
    async with admin_session(bootstrap, timeout_s) as admin:
        existing = set(await within(admin.list_topics(), timeout_s, bootstrap))
        # One entry per name: Kafka refuses a whole request that names a topic twice.
        wanted = list({s.name: s for s in specs if s.name not in existing}.values())
        if not wanted:
            return []
        durable = durability_config(min_insync_replicas)
        new = [
            NewTopic(
                s.name, s.partitions, replication_factor, topic_configs={**s.config, **durable}
            )
            for s in wanted
        ]
        # Another process may win the race; the topics exist either way.
        with contextlib.suppress(TopicAlreadyExistsError):
            response = await within(admin.create_topics(new), timeout_s, bootstrap)
            _check_created(response.topic_errors, bootstrap)
        await within(_visible(admin, {s.name for s in wanted}), timeout_s, bootstrap)
        return [s.name for s in wanted]


async def _visible(admin: AIOKafkaAdminClient, names: set[str]) -> None:
    """Wait until the brokers' metadata lists `names` (a created topic is announced a moment
    after the controller accepts it), so the caller's next step finds them."""
    while True:
        if names <= set(await admin.list_topics()):
            return
        await asyncio.sleep(0.05)


def _check_created(topic_errors: list[tuple], bootstrap: Target) -> None:
    """Raise MissingTopics for topics the broker neither created nor already had.

    With ACLs a principal sees only the topics it may describe and may create few, so a
    refusal here names the fix instead of failing later on an unknown topic.
    """
    refused = {
        name: for_code(code).__name__
        for name, code, *_ in topic_errors
        if code not in (0, TopicAlreadyExistsError.errno)
    }
    if refused:
        who = clients.connection(bootstrap).sasl_username or "this client"
        listed = ", ".join(f"{name} ({error})" for name, error in sorted(refused.items()))
        raise MissingTopics(
            f"{who} could not create {listed}; an admin creates them with "
            "`agentstream topics create` and grants access with `agentstream acls apply`"
        )


def require_topics(existing: Iterable[str], specs: Iterable[TopicSpec]) -> None:
    """Raise MissingTopics naming every spec whose topic is not in `existing`."""
    present = set(existing)
    missing = [s.name for s in specs if s.name not in present]
    if missing:
        raise MissingTopics(
            f"the platform's topics do not exist: {', '.join(missing)}; create them with "
            "`agentstream topics create` (or start the orchestrator)"
        )


def platform_topics(topics: Topics, tools: list[str]) -> list[TopicSpec]:
    """The core topics plus each tool's calls and registry topics."""
    return [
        *topics.core(),
        *(s for t in tools for s in (topics.tool_calls(t), topics.tool_registry(t))),
    ]
