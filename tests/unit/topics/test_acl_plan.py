"""The ACL plan grants each role its own resources and nothing of another's."""

from __future__ import annotations

import pytest

from topics.acl_plan import Grant, Operation, Pattern, Resource, plan, principals, user
from topics.names import Topics

TOPICS = Topics("p.")
APP = "p.agentstream-orchestrator"
GRANTS = plan(TOPICS, APP, principals(["calc", "clock"], ["alpha", "beta"]))


def of(name: str) -> list[Grant]:
    return [g for g in GRANTS if g.principal == user(name)]


def test_a_tool_worker_is_granted_only_its_own_tool_and_the_shared_answer_topics() -> None:
    mine = of("tool-calc")
    own = {TOPICS.tool_calls("calc").name, TOPICS.tool_registry("calc").name}
    own |= {TOPICS.tool_journal("calc").name, TOPICS.tool_group("calc")}
    shared = {TOPICS.agent_steps.name, TOPICS.dead_letters.name}
    assert {g.name for g in mine} == own | shared
    assert all(g.pattern is Pattern.LITERAL for g in mine)
    assert {g.operation for g in mine if g.name in shared} == {Operation.WRITE}
    calls = {g.operation for g in mine if g.name == TOPICS.tool_calls("calc").name}
    assert calls == {Operation.READ, Operation.CREATE}
    registry = {g.operation for g in mine if g.name == TOPICS.tool_registry("calc").name}
    assert registry == {Operation.WRITE, Operation.CREATE}


def test_a_client_writes_requests_and_reads_only_its_own_reply_topic() -> None:
    mine = {(g.name, g.operation) for g in of("client-alpha")}
    assert mine == {
        (TOPICS.agent_requests.name, Operation.WRITE),
        (TOPICS.reply_topic("alpha").name, Operation.READ),
        (TOPICS.reply_topic("alpha").name, Operation.CREATE),
    }


def test_only_the_orchestrator_writes_calls_and_replies_and_reads_registries() -> None:
    for grant in GRANTS:
        if grant.principal == user("orchestrator"):
            continue
        if grant.name.endswith(".calls"):
            assert grant.operation is not Operation.WRITE, grant
        if grant.name.startswith("p.replies."):
            assert grant.principal == user(f"client-{grant.name.removeprefix('p.replies.')}")
    orchestrator = {(g.name, g.operation) for g in of("orchestrator")}
    for tool in ("calc", "clock"):
        assert (TOPICS.tool_calls(tool).name, Operation.WRITE) in orchestrator
        assert (TOPICS.tool_registry(tool).name, Operation.READ) in orchestrator
        assert (TOPICS.tool_calls(tool).name, Operation.READ) not in orchestrator
        assert (TOPICS.tool_registry(tool).name, Operation.WRITE) not in orchestrator


def test_prefixed_grants_are_the_orchestrators_own_topics_its_replies_and_the_monitor() -> None:
    prefixed = {(g.principal, g.name) for g in GRANTS if g.pattern is Pattern.PREFIXED}
    assert prefixed == {
        (user("orchestrator"), f"{APP}-"),
        (user("orchestrator"), "p.replies."),
        (user("monitor"), "p."),
    }
    monitor = {g.operation for g in of("monitor")}
    assert monitor == {Operation.DESCRIBE}


def test_without_a_prefix_the_monitor_describes_everything_by_wildcard() -> None:
    grants = plan(Topics(), "agentstream-orchestrator", principals([], []))
    monitor = [g for g in grants if g.principal == user("monitor")]
    assert {(g.resource, g.name, g.pattern) for g in monitor} == {
        (Resource.TOPIC, "*", Pattern.LITERAL),
        (Resource.GROUP, "*", Pattern.LITERAL),
    }


def test_users_default_by_role_and_can_be_named() -> None:
    who = principals(["calc", "clock=svc-clock"], ["alpha=svc-a"], orchestrator="orch")
    assert who.tools == {"calc": "tool-calc", "clock": "svc-clock"}
    assert who.clients == {"alpha": "svc-a"}
    assert who.orchestrator == "orch"
    for bad in (["a.b"], ["x" * 65], [""]):
        with pytest.raises(ValueError):
            principals(bad, [])
    with pytest.raises(ValueError):
        principals([], ["no/slash"])


def test_the_plan_has_no_duplicates_and_is_sorted() -> None:
    grants = plan(TOPICS, APP, principals(["clock", "calc", "calc"], ["beta", "alpha"]))
    assert grants == sorted(set(grants))
    assert grants == GRANTS


def test_a_refusal_is_one_short_line_without_the_brokers_request_dump() -> None:
    from topics.acl_admin import AclError, _check

    _check(0, None, "granting")
    dump = "Request Request(processor=1, connectionId=127.0.0.1:1-127.0.0.1:2-1, session=...)"
    with pytest.raises(AclError) as refused:
        _check(31, dump, "reading the ACLs of User:x")
    assert str(refused.value) == "reading the ACLs of User:x: ClusterAuthorizationFailedError"
    with pytest.raises(AclError, match=r"InvalidRequestError \(bad pattern\)$"):
        _check(42, "bad pattern", "granting")
