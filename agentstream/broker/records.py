"""What a deployment records in its home directory, so stop and status find its exact PIDs."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from agentstream.broker.errors import BrokerError


class _OnLoopback:
    """Adds the client address to a record that has a broker `port`."""

    port: int

    @property
    def bootstrap_servers(self) -> str:
        return f"127.0.0.1:{self.port}"


@dataclass(frozen=True)
class BrokerInfo(_OnLoopback):
    """A running broker started by this package, as recorded in its home directory."""

    pid: int
    port: int
    controller_port: int
    version: str
    home: str


@dataclass(frozen=True)
class NodeInfo(_OnLoopback):
    """One node of a cluster: its id, recorded PID, listeners and own directory."""

    node_id: int
    pid: int
    port: int
    controller_port: int
    home: str


@dataclass(frozen=True)
class ClusterInfo:
    """A cluster started by this package, as recorded in `home/cluster.json`."""

    nodes: list[NodeInfo]
    version: str
    home: str

    @property
    def bootstrap_servers(self) -> str:
        return ",".join(node.bootstrap_servers for node in self.nodes)

    def node(self, node_id: int) -> NodeInfo:
        for node in self.nodes:
            if node.node_id == node_id:
                return node
        raise BrokerError(f"no node {node_id} in the cluster at {self.home}")


def info_file(home: Path) -> Path:
    """Where a single broker's record lives."""
    return home / "broker.json"


def cluster_file(home: Path) -> Path:
    """Where a cluster's record lives."""
    return home / "cluster.json"


def write_json(path: Path, payload: object) -> None:
    """Replace `path` atomically, so a reader never sees a half-written record."""
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(payload))
    tmp.replace(path)


def read_broker(home: Path) -> BrokerInfo | None:
    """The single broker recorded in `home`, running or not."""
    path = info_file(home)
    if not path.exists():
        return None
    return BrokerInfo(**json.loads(path.read_text()))


def write_broker(info: BrokerInfo) -> None:
    """Record a single broker in its home directory."""
    info_file(Path(info.home)).write_text(json.dumps(asdict(info)))


def read_cluster(home: Path) -> ClusterInfo | None:
    """The cluster recorded in `home`, running or not."""
    path = cluster_file(home)
    if not path.exists():
        return None
    raw = json.loads(path.read_text())
    nodes = [NodeInfo(**node) for node in raw.pop("nodes")]
    return ClusterInfo(nodes=nodes, **raw)


def write_cluster(info: ClusterInfo) -> None:
    """Record a cluster (every node's PID and ports) in its home directory."""
    write_json(cluster_file(Path(info.home)), asdict(info))
