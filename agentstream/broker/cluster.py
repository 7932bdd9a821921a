"""A multi-node KRaft cluster, every node a voter, so a node can be killed and leadership move."""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import NamedTuple

from agentstream.broker import secure
from agentstream.broker.classpath import kafka_version, resolve_classpath
from agentstream.broker.errors import BrokerError
from agentstream.broker.home import await_ready, running
from agentstream.broker.metadata import wait_until_ready
from agentstream.broker.node import (
    CLUSTER_NODE_JVM,
    MAIN_CLASS,
    format_storage,
    is_formatted,
    kafka_uuid,
    launch,
    log_tail,
    server_properties,
    write_properties,
)
from agentstream.broker.ports import free_ports
from agentstream.broker.records import ClusterInfo, NodeInfo, read_cluster, write_cluster
from agentstream.processes import cmdline, is_alive, stop_pid


class _Slot(NamedTuple):
    """Where one cluster node will live, fixed before anything starts."""

    node_id: int
    port: int
    controller_port: int
    node_dir: Path


def _formatted_ports(node_dir: Path) -> tuple[int, int] | None:
    """The broker and controller ports a formatted node was set up with, if any."""
    props_file = node_dir / "server.properties"
    if not is_formatted(node_dir) or not props_file.exists():
        return None
    for line in props_file.read_text().splitlines():
        if line.startswith("listeners="):
            broker, controller = (int(url.rsplit(":", 1)[1]) for url in line.split(","))
            return broker, controller
    return None


def _plan_cluster(home: Path, nodes: int) -> list[_Slot]:
    """Fresh ports for new nodes; a formatted node keeps its own, as the quorum recorded
    each voter's endpoint and a controller that moved would not be found again."""
    fresh = iter(free_ports(2 * nodes))
    slots = []
    for node_id in range(1, nodes + 1):
        node_dir = home / f"node-{node_id}"
        port, controller_port = _formatted_ports(node_dir) or (next(fresh), next(fresh))
        slots.append(_Slot(node_id, port, controller_port, node_dir))
    return slots


def start_cluster(
    home: Path, nodes: int = 3, users: Mapping[str, str] | None = None
) -> ClusterInfo:
    """Start (or find running) a cluster of `nodes` broker+controller nodes under `home`.

    The voters are fixed at format time with `--initial-controllers` (each voter named with
    its metadata directory id), so all nodes agree on the quorum before any of them starts.
    With `users` (name -> password) every node's client listener is SASL_SSL, as
    `secure` describes, and those users exist from the start (`secure.read(home)`).
    """
    found = running(home, nodes)
    if isinstance(found, ClusterInfo):
        return found
    classpath = resolve_classpath()
    slots = _plan_cluster(home, nodes)
    quorum = ",".join(f"127.0.0.1:{slot.controller_port}" for slot in slots)
    voters = ",".join(
        f"{slot.node_id}@127.0.0.1:{slot.controller_port}:{kafka_uuid()}" for slot in slots
    )
    home.mkdir(parents=True, exist_ok=True)
    secured = None if users is None else secure.prepare(home, [slot.port for slot in slots])
    for node_id, port, controller_port, node_dir in slots:
        node_dir.mkdir(parents=True, exist_ok=True)
        overrides = (
            None if secured is None else secure.properties(secured, home, port, controller_port)
        )
        props = server_properties(
            node_dir, node_id, port, controller_port, quorum, nodes, overrides
        )
        write_properties(node_dir, props)
    dirs = [slot.node_dir for slot in slots]
    scram = [] if secured is None else secure.scram_arguments(secured, dict(users or {}))
    format_storage(classpath, dirs, [f"--initial-controllers={voters}", *scram], CLUSTER_NODE_JVM)
    if secured is not None:
        secure.record(home, secured)
    else:
        (home / "secure.json").unlink(missing_ok=True)  # from an earlier, secured cluster
    info = ClusterInfo(
        nodes=[
            NodeInfo(id_, launch(classpath, dir_, CLUSTER_NODE_JVM), port, ctl, str(dir_))
            for id_, port, ctl, dir_ in slots
        ],
        version=kafka_version(classpath),
        home=str(home),
    )
    write_cluster(info)
    for node in info.nodes:
        target = secure.node_target(home, node.bootstrap_servers)
        await_ready(home, Path(node.home), target, node.pid)
    return info


def _cluster(home: Path) -> ClusterInfo:
    """The cluster recorded in `home`, or a BrokerError saying there is none."""
    cluster = read_cluster(home)
    if cluster is None:
        raise BrokerError(f"no cluster recorded in {home}")
    return cluster


def kill_node(home: Path, node_id: int) -> None:
    """SIGKILL one node's process group (no shutdown at all), as a crash would.

    Raises if the node isn't running or its recorded PID no longer runs Kafka.
    """
    node = _cluster(home).node(node_id)
    if not is_alive(node.pid) or MAIN_CLASS not in cmdline(node.pid):
        raise BrokerError(f"node {node_id} (pid {node.pid}) is not running")
    with contextlib.suppress(ProcessLookupError):
        os.killpg(node.pid, signal.SIGKILL)
    while is_alive(node.pid):
        with contextlib.suppress(OSError):
            os.waitpid(node.pid, os.WNOHANG)  # reap it if it is our own child
        time.sleep(0.02)


def restart_node(home: Path, node_id: int) -> NodeInfo:
    """Start a stopped node on its old data dir and ports; returns once it answers metadata."""
    cluster = _cluster(home)
    node = cluster.node(node_id)
    if is_alive(node.pid):
        return node
    restarted = replace(node, pid=launch(resolve_classpath(), Path(node.home), CLUSTER_NODE_JVM))
    nodes = [restarted if n.node_id == node_id else n for n in cluster.nodes]
    write_cluster(replace(cluster, nodes=nodes))
    try:
        wait_until_ready(secure.node_target(home, restarted.bootstrap_servers), restarted.pid)
    except BrokerError as exc:
        stop_pid(restarted.pid, expect_in_cmdline=MAIN_CLASS)
        tail = log_tail(Path(node.home))
        raise BrokerError(f"{exc}\n--- node {node_id} log tail ---\n{tail}") from exc
    return restarted
