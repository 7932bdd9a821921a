"""Provision real Apache Kafka (KRaft) on loopback: one combined broker+controller, or a cluster.

The jars come from Maven Central through `mvn`, resolved from the `pom.xml` shipped in
`agentstream/kafka/` and cached in the local Maven repository (outside the source tree),
so only the first start downloads anything.

A cluster (`--nodes 3`) runs every node as broker+controller, all of them voters of a
quorum fixed at format time, so the chaos harness can SIGKILL a node and watch leadership
and the ISR move.

    classpath  the jars (mvn) and the Kafka version
    node       one node's config, storage format, launch and log
    metadata   readiness, partition leader and ISR, by metadata request
    home       status and stop of whatever runs from a home directory, by recorded PID
    single     `start`: one broker, or a cluster when `nodes` > 1; `start_secured`
    secure     the secured variant: SASL_SSL with SCRAM users, KRaft's authorizer
    tls        a throwaway CA and the loopback broker certificate
    cluster    `start_cluster`, `kill_node`, `restart_node`
    cli        `agentstream broker start|stop|status`
"""

from __future__ import annotations

from agentstream.broker.classpath import (
    CACHE_DIR,
    DEFAULT_HOME,
    KAFKA_DIR,
    LOG4J_CONFIG,
    POM,
    kafka_version,
    resolve_classpath,
)
from agentstream.broker.cli import main
from agentstream.broker.cluster import kill_node, restart_node, start_cluster
from agentstream.broker.errors import BrokerError
from agentstream.broker.home import STOP_GRACE_S, status, stop
from agentstream.broker.metadata import (
    STARTUP_TIMEOUT_S,
    PartitionState,
    partition_leader,
    partition_state,
    wait_until_ready,
)
from agentstream.broker.node import CLUSTER_NODE_JVM, JVM_OPTS, MAIN_CLASS, SINGLE_NODE_JVM
from agentstream.broker.ports import free_port
from agentstream.broker.records import BrokerInfo, ClusterInfo, NodeInfo
from agentstream.broker.secure import Secured
from agentstream.broker.single import start, start_secured

__all__ = [
    "CACHE_DIR",
    "CLUSTER_NODE_JVM",
    "DEFAULT_HOME",
    "JVM_OPTS",
    "KAFKA_DIR",
    "LOG4J_CONFIG",
    "MAIN_CLASS",
    "POM",
    "SINGLE_NODE_JVM",
    "STARTUP_TIMEOUT_S",
    "STOP_GRACE_S",
    "BrokerError",
    "BrokerInfo",
    "ClusterInfo",
    "NodeInfo",
    "PartitionState",
    "Secured",
    "free_port",
    "kafka_version",
    "kill_node",
    "main",
    "partition_leader",
    "partition_state",
    "resolve_classpath",
    "restart_node",
    "start",
    "start_cluster",
    "start_secured",
    "status",
    "stop",
    "wait_until_ready",
]
