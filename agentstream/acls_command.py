"""`agentstream acls plan|apply`: the least-privilege ACLs of a deployment, shown or granted."""

from __future__ import annotations

import argparse
import asyncio

from agents.faust_app import app_id
from config.settings import get_settings
from topics.acl_admin import apply
from topics.acl_plan import Principals, plan, principals
from topics.names import Topics


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="agentstream acls",
        description="plan: print every grant; apply: make the cluster's ACLs of these "
        "principals exactly the plan (run as a user allowed to alter ACLs).",
    )
    parser.add_argument("action", choices=["plan", "apply"])
    parser.add_argument(
        "--tool",
        action="append",
        default=[],
        metavar="NAME[=USER]",
        help="a deployed tool and its workers' user (default tool-NAME); repeatable",
    )
    parser.add_argument(
        "--client",
        action="append",
        default=[],
        metavar="NAME[=USER]",
        help="an upstream client answered on replies.NAME, and its user (default "
        "client-NAME); repeatable",
    )
    parser.add_argument("--orchestrator", default=Principals.orchestrator, metavar="USER")
    parser.add_argument("--model-worker", default=Principals.model_worker, metavar="USER")
    parser.add_argument("--monitor", default=Principals.monitor, metavar="USER")
    args = parser.parse_args(argv)
    settings = get_settings()
    try:
        who = principals(args.tool, args.client, args.orchestrator, args.model_worker, args.monitor)
    except ValueError as exc:
        parser.error(str(exc))
    grants = plan(Topics(settings.topic_prefix), app_id(settings), who)
    if args.action == "plan":
        for grant in grants:
            print(grant)
        print(f"{len(grants)} grants for {len({g.principal for g in grants})} principals")
        return 0
    applied = asyncio.run(apply(settings.kafka, grants))
    for grant in applied.added:
        print(f"+ {grant}")
    for grant in applied.removed:
        print(f"- {grant}")
    print(
        f"{len(applied.added)} granted, {len(applied.removed)} revoked, "
        f"{len(grants) - len(applied.added)} already held"
    )
    return 0
