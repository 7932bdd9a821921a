"""The Kafka a scenario runs on: someone else's, a killable broker of its own, or a cluster."""

from __future__ import annotations

import shutil
import signal
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from agentstream import broker
from agentstream.processes import signal_pid


class BrokerHandle(Protocol):
    """Where the platform's Kafka is, and how to give it back at the end."""

    @property
    def bootstrap(self) -> str: ...

    def stop(self) -> None: ...


@dataclass
class ExternalBroker:
    """A broker someone else owns (the test suite's `kafka` fixture): never killed here."""

    bootstrap: str

    def stop(self) -> None:
        """Not ours to stop."""


@dataclass
class LocalBroker:
    """A project broker in its own temp dir, so it can be SIGKILLed and restarted in place."""

    home: Path
    info: broker.BrokerInfo

    @classmethod
    def start(cls) -> LocalBroker:
        home = Path(tempfile.mkdtemp(prefix="agentstream-chaos-broker-"))
        try:
            return cls(home, broker.start(home))
        except BaseException:
            shutil.rmtree(home, ignore_errors=True)
            raise

    @property
    def bootstrap(self) -> str:
        return self.info.bootstrap_servers

    def kill(self) -> bool:
        return signal_pid(self.info.pid, broker.MAIN_CLASS, signal.SIGKILL)

    def restart(self) -> None:
        """Same data dir, same client port (clients keep their bootstrap address)."""
        self.info = broker.start(self.home, self.info.port)

    def stop(self) -> None:
        broker.stop(self.home)
        shutil.rmtree(self.home, ignore_errors=True)


class ScenarioUnavailable(RuntimeError):
    """The scenario needs something this checkout does not have yet."""


CLUSTER_NODES = 3
CLUSTER_REPLICATION = {"replication_factor": 3, "min_insync_replicas": 2}
"""One node may die without losing an acknowledged write or refusing acks=all writes."""


def cluster_available() -> bool:
    """True where agentstream.broker can start a cluster and kill one of its nodes."""
    return all(hasattr(broker, f) for f in ("start_cluster", "kill_node", "partition_leader"))


@dataclass
class ClusterBroker:
    """For `leader-kill`: a 3-node cluster from `broker.start_cluster`, topics replicated 3x.

    Uses `start_cluster(home, nodes)`, `kill_node(home, node_id)` and
    `async partition_leader(bootstrap, topic, partition)` from agentstream.broker;
    without them the scenario stays registered and fails with ScenarioUnavailable.
    """

    home: Path
    info: Any

    @classmethod
    def start(cls) -> ClusterBroker:
        if not cluster_available():
            raise ScenarioUnavailable(
                "leader-kill needs broker.start_cluster, kill_node and partition_leader "
                "(a 3-node cluster), which agentstream.broker does not provide"
            )
        home = Path(tempfile.mkdtemp(prefix="agentstream-chaos-cluster-"))
        try:
            return cls(home, broker.start_cluster(home, nodes=CLUSTER_NODES))
        except BaseException:
            broker.stop(home)
            shutil.rmtree(home, ignore_errors=True)
            raise

    @property
    def bootstrap(self) -> str:
        return str(self.info.bootstrap_servers)

    async def leader(self, topic: str, partition: int) -> int:
        return int(await broker.partition_leader(self.bootstrap, topic, partition))

    def kill_node(self, node_id: int) -> None:
        broker.kill_node(self.home, node_id)

    def stop(self) -> None:
        broker.stop(self.home)  # every node recorded in home, by PID
        shutil.rmtree(self.home, ignore_errors=True)
