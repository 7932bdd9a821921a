"""`agentstream broker start|stop|status`: the local broker from the command line."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from agentstream.broker.classpath import DEFAULT_HOME
from agentstream.broker.errors import BrokerError
from agentstream.broker.home import status, stop
from agentstream.broker.records import BrokerInfo, ClusterInfo
from agentstream.broker.secure import ADMIN
from agentstream.broker.single import start, start_secured
from agentstream.processes import is_alive


def _print_started(info: BrokerInfo | ClusterInfo, began: float) -> None:
    """One line: version, where clients connect, the PIDs to look for, start-up time."""
    ready = f"ready in {time.monotonic() - began:.1f}s"
    if isinstance(info, BrokerInfo):
        where = f"at {info.bootstrap_servers}, pid {info.pid}"
    else:
        pids = ", ".join(str(node.pid) for node in info.nodes)
        where = f"{len(info.nodes)}-node cluster at {info.bootstrap_servers}, pids {pids}"
    print(f"Apache Kafka {info.version} (KRaft) {where}, {ready}")


def _print_status(info: BrokerInfo | ClusterInfo | None) -> int:
    """Print what runs; exit 0 only when the broker, or every node, is up."""
    if info is None:
        print("no broker running")
        return 1
    if isinstance(info, BrokerInfo):
        print(f"Apache Kafka {info.version} at {info.bootstrap_servers}, pid {info.pid}")
        return 0
    print(f"Apache Kafka {info.version}, {len(info.nodes)}-node cluster")
    for node in info.nodes:
        state = "up" if is_alive(node.pid) else "down"
        print(f"  node {node.node_id}: {node.bootstrap_servers}, pid {node.pid}, {state}")
    return 0 if all(is_alive(node.pid) for node in info.nodes) else 1


def main(argv: list[str]) -> int:
    """`agentstream broker start|stop|status [--home DIR] [--port N] [--nodes N]`."""
    parser = argparse.ArgumentParser(prog="agentstream broker")
    parser.add_argument("action", choices=["start", "stop", "status"])
    parser.add_argument("--home", type=Path, default=DEFAULT_HOME)
    parser.add_argument("--port", type=int, default=None)
    parser.add_argument("--nodes", type=int, default=1, help="3 for a KRaft cluster")
    parser.add_argument(
        "--secure",
        action="store_true",
        help="every node's only client listener is SASL_SSL (SCRAM users, its own CA), "
        "behind KRaft's authorizer",
    )
    args = parser.parse_args(argv)
    if args.nodes < 1:
        parser.error("--nodes must be at least 1")
    if args.secure and args.port is not None:
        parser.error("a secured broker picks free ports: drop --port")
    try:
        if args.action == "start" and args.secure:
            began = time.monotonic()
            info, secured = start_secured(args.home, None, args.nodes)
            _print_started(info, began)
            print(
                f"SASL_SSL, SCRAM-SHA-512 user {ADMIN} (super user); CA {secured.ca_file}; "
                f"the admin password is in {args.home / 'secure.json'}"
            )
        elif args.action == "start":
            began = time.monotonic()
            _print_started(start(args.home, args.port, args.nodes), began)
        elif args.action == "stop":
            print("broker stopped" if stop(args.home) else "no broker was running")
        else:
            return _print_status(status(args.home))
    except BrokerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0
