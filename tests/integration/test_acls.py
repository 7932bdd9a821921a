"""The platform under least-privilege ACLs on the secured broker: every process logs in as
its own role's user with exactly the grants of `agentstream acls plan`, and the grants
keep each tool's workers and each client to what is theirs."""

from __future__ import annotations

import asyncio
import secrets
import subprocess
import sys
import urllib.request
import uuid
from collections.abc import Awaitable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from aiokafka import TopicPartition
from aiokafka.errors import TopicAuthorizationFailedError, for_code
from prometheus_client import REGISTRY

from agents.faust_app import app_id
from agents.registry_view import RegistryView
from agentstream import broker
from agentstream.broker import Secured
from agentstream.cli import COMMANDS
from agentstream.client import AgentClient, answer
from agentstream.stack import Stack, StackConfig
from monitoring.lag_exporter import LagExporter
from tests.support.secured import SECURE_USERS, login, settings_as
from tests.support.waiting import wait_until
from topics import clients
from topics.acl_admin import apply, held
from topics.acl_plan import Grant, Operation, Pattern, Resource, plan, principals, user
from topics.admin import admin_session
from topics.codec import encode, encode_key
from topics.connection import Connection
from topics.messages import AgentRequest, AgentResponse
from topics.names import Topics, TopicSpec

pytestmark = pytest.mark.integration
TOOLS = ["calculator", "clock"]
CLIENTS = ["alpha", "beta"]
API_KEY = f"sk-ant-test-{secrets.token_urlsafe(24)}"


CLUSTER_REPLICATION = {"replication_factor": 3, "min_insync_replicas": 2}


@dataclass
class Deployment:
    secured: Secured
    topics: Topics
    grants: list[Grant]
    stack: Stack
    replication: dict[str, int]


@pytest.fixture(scope="module")
def secured_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Secured]:
    """Three secured nodes, every one a voter, with the same users as the single node."""
    home = tmp_path_factory.mktemp("secured-cluster")
    _, started = broker.start_secured(home, SECURE_USERS, nodes=3)
    try:
        yield started
    finally:
        broker.stop(home)


@pytest.fixture(scope="module", params=["one node", "three nodes"])
def deployment(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Deployment]:
    """The platform on one secured node, then on a secured 3-node cluster (topics with 3
    replicas, 2 in sync), each process on its own user."""
    cluster = request.param == "three nodes"
    secured: Secured = request.getfixturevalue("secured_cluster" if cluster else "secured")
    replication = CLUSTER_REPLICATION if cluster else {}
    prefix = f"acl{uuid.uuid4().hex[:6]}."
    topics = Topics(prefix)
    grants = plan(
        topics, app_id(settings_as(secured, "monitor", prefix)), principals(TOOLS, CLIENTS)
    )
    asyncio.run(apply(secured.connection(), grants))
    role_users = {
        "orchestrator": "orchestrator",
        "model-worker": "model-worker",
        **{f"worker-{tool}": f"tool-{tool}" for tool in TOOLS},
    }
    stack = Stack(
        StackConfig(
            bootstrap=secured.connection(),  # the admin creates the topics
            prefix=prefix,
            log_dir=tmp_path_factory.mktemp("acl-logs"),
            tools=dict.fromkeys(TOOLS, 1),
            env={**secured.env(), "AGENTSTREAM_TOPIC_PREFIX": prefix},
            **replication,
            role_env={
                **{
                    role: secured.env(name, SECURE_USERS[name]) for role, name in role_users.items()
                },
                # The SDK's key path runs too (sent to the local server), so a leak would show.
                "model-worker": {
                    **secured.env("model-worker", SECURE_USERS["model-worker"]),
                    "AGENTSTREAM_MODEL_BACKEND": "anthropic",
                    "AGENTSTREAM_ANTHROPIC_API_KEY": API_KEY,
                },
            },
        )
    )
    stack.start()
    try:
        asyncio.run(stack.wait_for_tools(TOOLS, 120))
        yield Deployment(secured, topics, grants, stack, replication)
    finally:
        stack.stop()


async def ask(deployment: Deployment, client: str, prompt: str) -> AgentResponse:
    settings = settings_as(
        deployment.secured, f"client-{client}", deployment.topics.prefix, deployment.replication
    )
    agent = AgentClient(settings, client)
    await agent.start()
    try:
        request = AgentRequest(
            conversation_id=f"{client}-{uuid.uuid4().hex[:8]}", prompt=prompt, tools=TOOLS
        )
        return await answer(agent, request, 120)
    finally:
        await agent.stop()


async def test_the_tool_loop_completes_with_each_process_on_its_least_privilege_user(
    deployment: Deployment,
) -> None:
    answer = await ask(deployment, "alpha", "compute 6*7")
    assert answer.status == "completed" and "42" in answer.text
    timed = await ask(deployment, "beta", "what time is it in UTC")
    assert timed.status == "completed" and timed.tool_calls == 1
    replicas = {
        spec.name: await replica_count(deployment.secured.connection(), spec.name)
        for spec in (deployment.topics.agent_steps, deployment.topics.reply_topic("alpha"))
    }
    want = deployment.replication.get("replication_factor", 1)
    assert set(replicas.values()) == {want}, replicas


async def described(kafka: Connection, topic: str) -> dict[str, Any]:
    """The topic's metadata as this login gets it (its error code when refused)."""
    async with admin_session(kafka) as admin:
        [topic_metadata] = await admin.describe_topics([topic])
    return topic_metadata


async def replica_count(kafka: Connection, topic: str) -> int:
    return len((await described(kafka, topic))["partitions"][0]["replicas"])


async def records(kafka: Connection, spec: TopicSpec, polls: int = 15) -> int:
    """How many records of a topic this login reads from the beginning (no group; stops at
    the first records): a refused topic yields none, and no error, over all polls."""
    consumer = clients.consumer(kafka, group_id=None, auto_offset_reset="earliest")
    await consumer.start()
    try:
        consumer.assign([TopicPartition(spec.name, p) for p in range(spec.partitions)])
        for _ in range(polls):
            batch = await asyncio.wait_for(consumer.getmany(timeout_ms=200), 20)
            if batch:
                return sum(len(r) for r in batch.values())
        return 0
    finally:
        await consumer.stop()


async def writes(kafka: Connection, topic: str, key: bytes, value: bytes) -> None:
    producer = clients.producer(kafka, request_timeout_ms=10_000)
    await producer.start()
    try:
        await asyncio.wait_for(producer.send_and_wait(topic, value, key=key), 30)
    finally:
        await producer.stop()


async def metadata_error(kafka: Connection, topic: str) -> str:
    """The error the broker gives this login for the topic's metadata ("" if none)."""
    code = (await described(kafka, topic))["error_code"]
    return for_code(code).__name__ if code else ""


async def assert_refused(
    deployment: Deployment, login_as: str, own: TopicSpec, other: TopicSpec
) -> None:
    """`login_as` reads its own topic but nothing of `other`, which does hold records."""
    me = login(deployment.secured, login_as)
    assert await records(me, own) > 0
    assert await records(deployment.secured.connection(), other) > 0
    assert await records(me, other) == 0
    assert await metadata_error(me, other.name) == "TopicAuthorizationFailedError"


async def test_a_tool_worker_reads_its_own_calls_and_not_another_tools(
    deployment: Deployment,
) -> None:
    await ask(deployment, "alpha", "compute 6*7 and tell the time in UTC")
    calls = deployment.topics.tool_calls
    await assert_refused(deployment, "tool-calculator", calls("calculator"), calls("clock"))


async def test_a_tool_worker_writes_its_own_registry_entry_and_not_another_tools(
    deployment: Deployment,
) -> None:
    view = RegistryView(deployment.secured.connection(), deployment.topics)
    task = asyncio.create_task(view.run())
    try:
        await wait_until(lambda: "calculator" in view.tools, 30, "the calculator's spec")
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    spec = view.tools["calculator"]
    calculator = login(deployment.secured, "tool-calculator")
    own = deployment.topics.tool_registry("calculator").name
    await writes(calculator, own, encode_key(spec.name), encode(spec))
    other = deployment.topics.tool_registry("clock").name
    with pytest.raises(TopicAuthorizationFailedError):
        await writes(calculator, other, b"clock", encode(spec.model_copy(update={"name": "clock"})))


async def test_a_client_reads_its_own_replies_and_not_another_clients(
    deployment: Deployment,
) -> None:
    await ask(deployment, "alpha", "hello")
    await ask(deployment, "beta", "hello")
    replies = deployment.topics.reply_topic
    await assert_refused(deployment, "client-beta", replies("beta"), replies("alpha"))


async def test_apply_revokes_a_widened_grant_and_the_refusal_returns(
    deployment: Deployment,
) -> None:
    """A grant widened by hand lets tool A read tool B's calls (so the refusal tests would
    fail); applying the plan again takes it back."""
    widened = Grant(
        user("tool-calculator"),
        Resource.TOPIC,
        deployment.topics.tool_calls("x").name.removesuffix("x.calls"),
        Pattern.PREFIXED,
        Operation.READ,
    )
    admin = deployment.secured.connection()
    applied = await apply(admin, [*deployment.grants, widened])
    assert applied.added == [widened] and applied.removed == []
    calculator = login(deployment.secured, "tool-calculator")
    clock_calls = deployment.topics.tool_calls("clock")
    await wait_until(
        lambda: _positive(records(calculator, clock_calls, polls=1)), 30, "the widened grant"
    )
    applied = await apply(admin, deployment.grants)
    assert applied.added == [] and applied.removed == [widened]
    assert await held(admin, {widened.principal}) == {
        g for g in deployment.grants if g.principal == widened.principal
    }
    await wait_until(
        lambda: _refused(metadata_error(calculator, clock_calls.name)),
        30,
        "the grant to be revoked",
    )


async def _positive(count: Awaitable[int]) -> bool:
    return await count > 0


async def _refused(error: Awaitable[str]) -> bool:
    return await error == "TopicAuthorizationFailedError"


async def test_no_secret_reaches_logs_events_dead_letters_metrics_or_help(
    deployment: Deployment,
) -> None:
    """Every password of the run and the API key, searched for in every process's log, the
    events, responses and dead letters, every /metrics page and every command's --help."""
    hidden = [*SECURE_USERS.values(), deployment.secured.admin_password, API_KEY]
    await ask(deployment, "alpha", "compute 2+3")
    alpha = login(deployment.secured, "client-alpha")
    poison = f"poison-{uuid.uuid4().hex[:8]}"
    await writes(alpha, deployment.topics.agent_requests.name, poison.encode(), b"{not json")
    admin = deployment.secured.connection()
    dead = deployment.topics.dead_letters
    await wait_until(
        lambda: _holds(everything(admin, dead), poison.encode()), 60, "the dead letter"
    )
    places: dict[str, bytes] = {}
    for path in sorted(deployment.stack.config.log_dir.iterdir()):
        places[f"log {path.name}"] = path.read_bytes()
    for spec in (
        deployment.topics.agent_events,
        deployment.topics.agent_responses,
        deployment.topics.dead_letters,
        deployment.topics.reply_topic("alpha"),
    ):
        places[f"topic {spec.name}"] = await everything(admin, spec)
    for name, port in deployment.stack.metrics_ports.items():
        places[f"metrics {name}"] = await asyncio.to_thread(
            _get, f"http://127.0.0.1:{port}/metrics"
        )
    env = deployment.stack.env("model-worker-1")
    for command in COMMANDS:
        done = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "agentstream.cli", command, "--help"],
            env=env,
            capture_output=True,
            timeout=120,
        )
        places[f"{command} --help"] = done.stdout + done.stderr
    assert poison.encode() in places[f"topic {dead.name}"]
    assert {f"log {name}.log" for name in deployment.stack.processes} <= set(places)
    assert b"serves tool calculator" in places["log worker-calculator-1.log"]
    leaks = [
        (where, s[:12]) for where, text in places.items() for s in hidden if s.encode() in text
    ]
    assert leaks == []


async def everything(kafka: Connection, spec: TopicSpec) -> bytes:
    """Every key and value on every partition of a topic, concatenated."""
    consumer = clients.consumer(kafka, group_id=None, auto_offset_reset="earliest")
    await consumer.start()
    try:
        tps = [TopicPartition(spec.name, p) for p in range(spec.partitions)]
        consumer.assign(tps)
        end = await consumer.end_offsets(tps)
        chunks: list[bytes] = []
        while [tp for tp in tps if await consumer.position(tp) < end[tp]]:
            batch = await asyncio.wait_for(consumer.getmany(timeout_ms=200), 20)
            chunks += [(r.key or b"") + (r.value or b"") for rs in batch.values() for r in rs]
        return b"\n".join(chunks)
    finally:
        await consumer.stop()


async def _holds(text: Awaitable[bytes], wanted: bytes) -> bool:
    return wanted in await text


def _get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.read()


async def test_the_lag_exporter_reads_sizes_and_lag_as_the_monitor(deployment: Deployment) -> None:
    await ask(deployment, "alpha", "compute 1+1")
    steps = deployment.topics.agent_steps.name
    calculator = deployment.topics.tool_calls("calculator").name
    group = deployment.topics.tool_group("calculator")
    exporter = LagExporter(settings_as(deployment.secured, "monitor", deployment.topics.prefix))
    await exporter.start()

    async def exported() -> bool:
        await exporter.collect()
        lag = {"topic": calculator, "group": group}
        return (
            REGISTRY.get_sample_value("agentstream_topic_messages", {"topic": steps}) or 0
        ) > 0 and REGISTRY.get_sample_value("agentstream_consumer_lag_messages", lag) is not None

    try:
        await wait_until(exported, 30, "the topic size and the calculator group's lag")
    finally:
        await exporter.stop()
