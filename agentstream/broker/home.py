"""What runs from a home directory, found and stopped by the PIDs recorded there, never by name."""

from __future__ import annotations

from pathlib import Path

from agentstream.broker.classpath import DEFAULT_HOME
from agentstream.broker.errors import BrokerError
from agentstream.broker.metadata import wait_until_ready
from agentstream.broker.node import MAIN_CLASS, log_tail
from agentstream.broker.records import (
    BrokerInfo,
    ClusterInfo,
    cluster_file,
    info_file,
    read_broker,
    read_cluster,
)
from agentstream.processes import is_alive, stop_pid
from topics.connection import Target

STOP_GRACE_S = 20.0


def status(home: Path = DEFAULT_HOME) -> BrokerInfo | ClusterInfo | None:
    """What runs from `home`: the broker, or the cluster (all nodes) while any node lives."""
    cluster = read_cluster(home)
    if cluster is not None:
        return cluster if any(is_alive(node.pid) for node in cluster.nodes) else None
    info = read_broker(home)
    return info if info is not None and is_alive(info.pid) else None


def _node_count(running: BrokerInfo | ClusterInfo) -> int:
    return len(running.nodes) if isinstance(running, ClusterInfo) else 1


def running(home: Path, nodes: int) -> BrokerInfo | ClusterInfo | None:
    """The deployment already running from `home`, refusing one of another size."""
    found = status(home)
    if found is not None and _node_count(found) != nodes:
        raise BrokerError(
            f"{_node_count(found)} node(s) already run from {home}: stop them before "
            f"starting {nodes}"
        )
    return found


def await_ready(home: Path, node_dir: Path, bootstrap: Target, pid: int) -> None:
    """Wait for one node; on failure stop everything in `home` and quote the node's log."""
    try:
        wait_until_ready(bootstrap, pid)
    except BrokerError as exc:
        stop(home)
        raise BrokerError(f"{exc}\n--- broker log tail ---\n{log_tail(node_dir)}") from exc


def _stop_cluster(cluster: ClusterInfo) -> bool:
    """Stop the live nodes one at a time while a quorum remains to approve each one's
    controlled shutdown; the last minority cannot get that approval (a SIGTERMed node would
    wait minutes for it), so they are killed at once and recover their logs on next start."""
    alive = [node for node in cluster.nodes if is_alive(node.pid)]
    majority = len(cluster.nodes) // 2 + 1
    stopped = False
    for i, node in enumerate(alive):
        graceful = len(alive) - i >= majority
        grace_s = STOP_GRACE_S if graceful else 0.0
        stopped |= stop_pid(node.pid, expect_in_cmdline=MAIN_CLASS, grace_s=grace_s)
    return stopped


def stop(home: Path = DEFAULT_HOME) -> bool:
    """Stop exactly the PIDs recorded in `home` (broker or every node); False if none ran."""
    cluster = read_cluster(home)
    stopped = _stop_cluster(cluster) if cluster else False
    info = read_broker(home)
    if info is not None:
        stopped |= stop_pid(info.pid, expect_in_cmdline=MAIN_CLASS)
    info_file(home).unlink(missing_ok=True)
    cluster_file(home).unlink(missing_ok=True)
    return stopped
