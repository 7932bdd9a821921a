"""Least-privilege ACLs: which principal may do what to which topic and group.

Each role gets exactly what its process does, on literal names where the platform knows
them, so widening one grant is a visible change here and in the refusal tests:

- the orchestrator reads requests and steps, writes calls, results, events, responses
  and dead letters, owns its faust app's internal topics and group, reads every tool's
  registry topic, and writes the clients' reply topics;
- the model worker reads model calls (its group) and writes steps and dead letters;
- a tool's workers read that tool's calls (its group), create, read and write that tool's
  journal, write that tool's registry entry, and write steps and dead letters; nothing of
  any other tool;
- an upstream client writes requests and reads (and creates) its own reply topic only;
- the monitor (the lag exporter) describes the platform's topics and groups.

The numeric codes are Kafka's own (`AclOperation`, `ResourceType`, `PatternType`,
`AclPermissionType` in its admin API); aiokafka has the requests but not the names.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum

from topics.names import Topics


class Resource(IntEnum):
    TOPIC = 2
    GROUP = 3
    CLUSTER = 4
    TRANSACTIONAL_ID = 5


class Pattern(IntEnum):
    LITERAL = 3
    PREFIXED = 4


class Operation(IntEnum):
    ALL = 2
    READ = 3
    WRITE = 4
    CREATE = 5
    DELETE = 6
    ALTER = 7
    DESCRIBE = 8
    DESCRIBE_CONFIGS = 10


ALLOW = 3
"""AclPermissionType ALLOW: the plan never denies; what it does not grant is refused."""
ANY_HOST = "*"


@dataclass(frozen=True, order=True)
class Grant:
    """One ALLOW binding: `principal` may `operation` on a resource from any host."""

    principal: str
    resource: Resource
    name: str
    pattern: Pattern
    operation: Operation

    def __str__(self) -> str:
        pattern = "" if self.pattern is Pattern.LITERAL else " (prefix)"
        return (
            f"{self.principal:<28} {self.operation.name:<9} "
            f"{self.resource.name.lower()} {self.name}{pattern}"
        )


@dataclass(frozen=True)
class Principals:
    """The users each role's processes log in as (SASL usernames)."""

    orchestrator: str = "orchestrator"
    model_worker: str = "model-worker"
    monitor: str = "monitor"
    tools: dict[str, str] = field(default_factory=dict)
    """tool name -> its workers' user (default `tool-<name>`)."""
    clients: dict[str, str] = field(default_factory=dict)
    """client name -> its user (default `client-<name>`); it answers on `replies.<name>`."""


def user(name: str) -> str:
    return f"User:{name}"


def plan(topics: Topics, app_id: str, who: Principals) -> list[Grant]:
    """Every grant the platform needs, sorted by principal then resource."""
    grants = [
        *_orchestrator(topics, app_id, who),
        *_model_worker(topics, who.model_worker),
        *_monitor(topics, who.monitor),
    ]
    for tool, name in who.tools.items():
        grants += _tool_worker(topics, tool, name)
    for client, name in who.clients.items():
        grants += _client(topics, client, name)
    return sorted(set(grants))


def _topic(principal: str, name: str, *operations: Operation) -> list[Grant]:
    return [Grant(user(principal), Resource.TOPIC, name, Pattern.LITERAL, op) for op in operations]


def _group(principal: str, name: str) -> Grant:
    return Grant(user(principal), Resource.GROUP, name, Pattern.LITERAL, Operation.READ)


def _producer_of_steps(topics: Topics, principal: str) -> list[Grant]:
    """What every worker shares: it answers on agent.steps and dead-letters what it can't read."""
    return [
        *_topic(principal, topics.agent_steps.name, Operation.WRITE),
        *_topic(principal, topics.dead_letters.name, Operation.WRITE),
    ]


def _orchestrator(topics: Topics, app_id: str, who: Principals) -> list[Grant]:
    me = who.orchestrator
    read, write = Operation.READ, Operation.WRITE
    grants = [
        # Requests a non-Java partitioner misplaced are re-published under the right key.
        *_topic(me, topics.agent_requests.name, read, write),
        *_topic(me, topics.agent_steps.name, read, write),
        *_topic(me, topics.agent_responses.name, write),
        *_topic(me, topics.agent_events.name, write),
        *_topic(me, topics.model_calls.name, write),
        *_topic(me, topics.dead_letters.name, write),
        _group(me, app_id),
        # faust's own topics: the conversations changelog and its leader topic.
        *(
            Grant(user(me), Resource.TOPIC, f"{app_id}-", Pattern.PREFIXED, op)
            for op in (read, write, Operation.CREATE, Operation.DESCRIBE)
        ),
        Grant(user(me), Resource.TOPIC, topics.reply_prefix, Pattern.PREFIXED, write),
    ]
    for tool in who.tools:
        grants += _topic(me, topics.tool_calls(tool).name, write)
        grants += _topic(me, topics.tool_registry(tool).name, read)
    return grants


def _model_worker(topics: Topics, me: str) -> list[Grant]:
    return [
        *_topic(me, topics.model_calls.name, Operation.READ),
        _group(me, topics.model_group),
        *_producer_of_steps(topics, me),
    ]


def _tool_worker(topics: Topics, tool: str, me: str) -> list[Grant]:
    create, read, write = Operation.CREATE, Operation.READ, Operation.WRITE
    return [
        *_topic(me, topics.tool_calls(tool).name, read, create),
        _group(me, topics.tool_group(tool)),
        *_topic(me, topics.tool_registry(tool).name, write, create),
        *_topic(me, topics.tool_journal(tool).name, read, write, create),
        *_producer_of_steps(topics, me),
    ]


def _client(topics: Topics, client: str, me: str) -> list[Grant]:
    read, create = Operation.READ, Operation.CREATE
    return [
        *_topic(me, topics.agent_requests.name, Operation.WRITE),
        *_topic(me, topics.reply_topic(client).name, read, create),
    ]


def _monitor(topics: Topics, me: str) -> list[Grant]:
    """Describe every topic and group of the platform (all of them without a prefix)."""
    name, pattern = (topics.prefix, Pattern.PREFIXED) if topics.prefix else ("*", Pattern.LITERAL)
    return [
        Grant(user(me), kind, name, pattern, Operation.DESCRIBE)
        for kind in (Resource.TOPIC, Resource.GROUP)
    ]


def principals(
    tools: list[str],
    clients: list[str],
    orchestrator: str = "orchestrator",
    model_worker: str = "model-worker",
    monitor: str = "monitor",
) -> Principals:
    """Principals from `name` or `name=user` entries (`tool-<name>`, `client-<name>`)."""
    return Principals(
        orchestrator=orchestrator,
        model_worker=model_worker,
        monitor=monitor,
        tools=dict(_named(entry, "tool") for entry in tools),
        clients=dict(_named(entry, "client") for entry in clients),
    )


def _named(entry: str, role: str) -> tuple[str, str]:
    name, _, login = entry.partition("=")
    topics = Topics()
    if role == "tool":
        topics.tool_calls(name)  # validates the name
    else:
        topics.reply_topic(name)
    return name, login or f"{role}-{name}"
