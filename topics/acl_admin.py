"""Read and change a cluster's ACLs through Kafka's admin API (CreateAcls, DescribeAcls,
DeleteAcls).

aiokafka 0.14 defines these requests but its admin client has no methods for them, so
they go over the admin client's own connection, one binding per request, each checked
for its error code. Needs a principal allowed to alter the cluster's ACLs (the admin).
"""

from __future__ import annotations

from dataclasses import dataclass

from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import for_code
from aiokafka.protocol.admin import CreateAclsRequest, DeleteAclsRequest, DescribeAclsRequest

from topics.acl_plan import ALLOW, ANY_HOST, Grant, Operation, Pattern, Resource
from topics.admin import admin_session, within
from topics.connection import Target

ANY = 1
"""The ANY value of Kafka's resource, pattern, operation and permission filters."""


class AclError(RuntimeError):
    """The cluster refused to read or change an ACL; the message says which and why."""


@dataclass(frozen=True)
class Applied:
    added: list[Grant]
    removed: list[Grant]


async def apply(target: Target, grants: list[Grant], timeout_s: float = 30.0) -> Applied:
    """Make the ACLs of the plan's principals exactly `grants`: create what is missing and
    delete what they hold beyond it (a widened grant is narrowed again)."""
    async with admin_session(target) as admin:
        held = await _held(admin, target, {g.principal for g in grants}, timeout_s)
        wanted = set(grants)
        added = sorted(wanted - held)
        removed = sorted(held - wanted)
        for grant in added:
            await within(_create(admin, grant), timeout_s, target)
        for grant in removed:
            await within(_delete(admin, grant), timeout_s, target)
        return Applied(added, removed)


async def held(target: Target, principals: set[str], timeout_s: float = 30.0) -> set[Grant]:
    """Every ALLOW binding the cluster holds for these principals."""
    async with admin_session(target) as admin:
        return await _held(admin, target, principals, timeout_s)


async def _held(
    admin: AIOKafkaAdminClient, target: Target, principals: set[str], timeout_s: float
) -> set[Grant]:
    found: set[Grant] = set()
    for principal in sorted(principals):
        request = DescribeAclsRequest(ANY, None, ANY, principal, None, ANY, ANY)
        response = await within(admin._send_request(request), timeout_s, target)
        _check(response.error_code, response.error_message, f"reading the ACLs of {principal}")
        for kind, name, pattern, acls in response.resources:
            for who, _host, operation, permission in acls:
                if permission == ALLOW and _known(kind, pattern, operation):
                    grant = Grant(who, Resource(kind), name, Pattern(pattern), Operation(operation))
                    found.add(grant)
    return found


def _known(kind: int, pattern: int, operation: int) -> bool:
    """Bindings the plan could hold (others, e.g. on delegation tokens, are left alone)."""
    return (
        kind in Resource._value2member_map_
        and pattern in Pattern._value2member_map_
        and operation in Operation._value2member_map_
    )


async def _create(admin: AIOKafkaAdminClient, grant: Grant) -> None:
    request = CreateAclsRequest(*_binding(grant))
    response = await admin._send_request(request)
    for error_code, error_message in response.creation_responses:
        _check(error_code, error_message, f"granting {grant}")


async def _delete(admin: AIOKafkaAdminClient, grant: Grant) -> None:
    request = DeleteAclsRequest(*_binding(grant))
    response = await admin._send_request(request)
    for error_code, error_message, _matching in response.filter_responses:
        _check(error_code, error_message, f"revoking {grant}")


def _binding(grant: Grant) -> tuple[int, str, int, str, str, int, int]:
    return (
        int(grant.resource),
        grant.name,
        int(grant.pattern),
        grant.principal,
        ANY_HOST,
        int(grant.operation),
        ALLOW,
    )


def _check(error_code: int, message: str | None, doing: str) -> None:
    if error_code:
        name = for_code(error_code).__name__
        # An authorization refusal's message is the broker's dump of the request: left out.
        said = f" ({message[:200]})" if message and "Request(" not in message else ""
        raise AclError(f"{doing.strip()}: {name}{said}")
