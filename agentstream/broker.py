"""Provision real Apache Kafka (KRaft) on loopback: one combined broker+controller, or a cluster.

The jars come from Maven Central through `mvn`, resolved from the `pom.xml` shipped
beside this module and cached in the local Maven repository (outside the source tree),
so only the first start downloads anything.

A cluster (`--nodes 3`) runs every node as broker+controller, all of them voters of a
quorum fixed at format time, so the chaos harness can SIGKILL a node and watch leadership
and the ISR move.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
import zipfile
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Literal, NamedTuple, overload

from agentstream.processes import cmdline, is_alive, spawn, stop_pid

KAFKA_DIR = Path(__file__).with_name("kafka")
POM = KAFKA_DIR / "pom.xml"
LOG4J_CONFIG = KAFKA_DIR / "log4j2.properties"
CACHE_DIR = Path.home() / ".cache" / "agentstream"
DEFAULT_HOME = CACHE_DIR / "broker"
MAIN_CLASS = "kafka.Kafka"
STARTUP_TIMEOUT_S = 90.0
STOP_GRACE_S = 20.0
SINGLE_NODE_JVM = ("-Xms256m", "-Xmx1g")
# Three JVMs share a small machine: half the heap each is ample for loopback traffic, and
# stopping at the C1 compiler cuts a cluster's start on two cores from ~30 s to ~12 s.
CLUSTER_NODE_JVM = ("-Xms128m", "-Xmx512m", "-XX:TieredStopAtLevel=1")
JVM_OPTS = ("-XX:+UseG1GC", "-Djava.awt.headless=true")


class BrokerError(RuntimeError):
    """The broker could not be provisioned, started or reached; the message says why."""


class _OnLoopback:
    """Adds the client address to a record that has a broker `port`."""

    port: int

    @property
    def bootstrap_servers(self) -> str:
        return f"127.0.0.1:{self.port}"


@dataclass(frozen=True)
class BrokerInfo(_OnLoopback):
    """A running broker started by this module, as recorded in its home directory."""

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
    """A cluster started by this module, as recorded in `home/cluster.json`."""

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


@dataclass(frozen=True)
class PartitionState:
    """Who leads a partition and which replicas are in sync, as metadata reports it."""

    leader: int
    replicas: list[int]
    isr: list[int]


def _require(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        hint = "a Java 17+ runtime" if tool == "java" else "Apache Maven"
        raise BrokerError(f"`{tool}` is not on PATH: install {hint} to run the local broker")
    return path


def resolve_classpath() -> str:
    """The broker's runtime classpath; runs `mvn` only when the pom changed or jars vanished."""
    _require("java")
    digest = hashlib.sha256(POM.read_bytes()).hexdigest()[:16]
    cp_file = CACHE_DIR / f"kafka-classpath-{digest}.txt"
    if cp_file.exists():
        classpath = cp_file.read_text().strip()
        if classpath and all(Path(p).exists() for p in classpath.split(":")):
            return classpath
    mvn = _require("mvn")
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    cmd = [
        mvn,
        "-q",
        "-B",
        "-f",
        str(POM),
        "dependency:build-classpath",
        f"-Dmdep.outputFile={cp_file}",
    ]
    result = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if result.returncode != 0 or not cp_file.exists():
        raise BrokerError(f"mvn could not resolve Kafka's jars:\n{result.stdout}{result.stderr}")
    return cp_file.read_text().strip()


def kafka_version(classpath: str) -> str:
    """The Apache Kafka version, read from the kafka-clients jar on the classpath."""
    for entry in classpath.split(":"):
        if Path(entry).name.startswith("kafka-clients-"):
            with zipfile.ZipFile(entry) as jar:
                props = jar.read("kafka/kafka-version.properties").decode()
            for line in props.splitlines():
                if line.startswith("version="):
                    return line.split("=", 1)[1].strip()
    raise BrokerError("kafka-clients jar not found on the resolved classpath")


def _free_ports(count: int) -> list[int]:
    """`count` distinct loopback ports: all sockets stay bound until every port is picked."""
    with contextlib.ExitStack() as stack:
        socks = [stack.enter_context(socket.socket()) for _ in range(count)]
        for sock in socks:
            sock.bind(("127.0.0.1", 0))
        return [int(sock.getsockname()[1]) for sock in socks]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    return _free_ports(1)[0]


def _server_properties(
    node_dir: Path, node_id: int, port: int, controller_port: int, quorum: str, replicas: int
) -> str:
    """One node's config; `replicas` > 1 adds the durability defaults a cluster can honour."""
    factor, min_isr = str(replicas), str(min(2, replicas))
    props = {
        "process.roles": "broker,controller",
        "node.id": str(node_id),
        "controller.quorum.bootstrap.servers": quorum,
        "listeners": f"PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller_port}",
        "advertised.listeners": f"PLAINTEXT://127.0.0.1:{port}",
        "controller.listener.names": "CONTROLLER",
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
        "inter.broker.listener.name": "PLAINTEXT",
        "log.dirs": str(node_dir / "data"),
        "num.partitions": "1",
        "offsets.topic.replication.factor": factor,
        "offsets.topic.num.partitions": "8",
        "transaction.state.log.replication.factor": factor,
        "transaction.state.log.min.isr": min_isr,
        "transaction.state.log.num.partitions": "4",
        "share.coordinator.state.topic.replication.factor": factor,
        "share.coordinator.state.topic.min.isr": min_isr,
        "group.initial.rebalance.delay.ms": "0",
        "message.max.bytes": str(8 * 1024 * 1024),
        "auto.create.topics.enable": "true",
    }
    if replicas > 1:
        props |= {
            "default.replication.factor": factor,
            "min.insync.replicas": min_isr,
            "unclean.leader.election.enable": "false",
        }
    return "".join(f"{key}={value}\n" for key, value in props.items())


def _kafka_uuid() -> str:
    """A random id in Kafka's Uuid text form (URL-safe base64, no padding)."""
    return base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")


def _java_cmd(
    classpath: str, home: Path, main: list[str], jvm: tuple[str, ...] = SINGLE_NODE_JVM
) -> list[str]:
    return [
        _require("java"),
        *jvm,
        *JVM_OPTS,
        f"-Dkafka.logs.dir={home / 'logs'}",
        f"-Dlog4j2.configurationFile={LOG4J_CONFIG}",
        "-cp",
        classpath,
        *main,
    ]


def _format_cmd(
    classpath: str, node_dir: Path, cluster_id: str, quorum_args: list[str], jvm: tuple[str, ...]
) -> list[str]:
    props_file = node_dir / "server.properties"
    main = ["kafka.tools.StorageTool", "format", *quorum_args, f"--cluster-id={cluster_id}"]
    return _java_cmd(classpath, node_dir, [*main, "-c", str(props_file)], jvm)


def _format(
    classpath: str, node_dirs: list[Path], quorum_args: list[str], jvm: tuple[str, ...]
) -> None:
    """Format each unformatted node's storage under one new cluster id.

    The formats run side by side: each is a JVM start, the slow part of setting up.
    """
    cluster_id = _kafka_uuid()
    procs = [
        subprocess.Popen(
            _format_cmd(classpath, node_dir, cluster_id, quorum_args, jvm),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for node_dir in node_dirs
        if not (node_dir / "data" / "meta.properties").exists()
    ]
    outputs = [proc.communicate()[0] for proc in procs]
    failures = [out for proc, out in zip(procs, outputs, strict=True) if proc.returncode != 0]
    if failures:
        raise BrokerError("formatting KRaft storage failed:\n" + "\n".join(failures))


def _launch(classpath: str, node_dir: Path, jvm: tuple[str, ...]) -> int:
    """Spawn one node from the `server.properties` in its directory; returns its PID."""
    props_file = node_dir / "server.properties"
    cmd = _java_cmd(classpath, node_dir, [MAIN_CLASS, str(props_file)], jvm)
    return spawn(cmd, node_dir / "stdout.log").pid


def _port_open(bootstrap: str) -> bool:
    host, port = bootstrap.rsplit(":", 1)
    try:
        with socket.create_connection((host, int(port)), timeout=0.5):
            return True
    except OSError:
        return False


async def _answers_metadata(bootstrap: str) -> bool:
    from aiokafka.admin import AIOKafkaAdminClient

    if not _port_open(bootstrap):
        return False
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=3000)
    try:
        await admin.start()
        cluster = await admin.describe_cluster()
        return bool(cluster.get("brokers"))
    except Exception:
        return False
    finally:
        await admin.close()


def wait_until_ready(bootstrap: str, pid: int, timeout_s: float = STARTUP_TIMEOUT_S) -> None:
    """Block until the broker answers a metadata request, or raise if it died or timed out."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not is_alive(pid):
            raise BrokerError(f"broker process {pid} exited during start-up")
        if asyncio.run(_answers_metadata(bootstrap)):
            return
        time.sleep(0.2)
    raise BrokerError(f"broker at {bootstrap} did not answer metadata within {timeout_s:.0f}s")


def _await_ready(home: Path, node_dir: Path, bootstrap: str, pid: int) -> None:
    """Wait for one node; on failure stop everything in `home` and quote the node's log."""
    try:
        wait_until_ready(bootstrap, pid)
    except BrokerError as exc:
        stop(home)
        raise BrokerError(f"{exc}\n--- broker log tail ---\n{_log_tail(node_dir)}") from exc


def _info_file(home: Path) -> Path:
    return home / "broker.json"


def _cluster_file(home: Path) -> Path:
    return home / "cluster.json"


def _write_json(path: Path, payload: object) -> None:
    """Replace `path` atomically, so a reader never sees a half-written record."""
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(payload))
    tmp.replace(path)


def _read_cluster(home: Path) -> ClusterInfo | None:
    path = _cluster_file(home)
    if not path.exists():
        return None
    raw = json.loads(path.read_text())
    nodes = [NodeInfo(**node) for node in raw.pop("nodes")]
    return ClusterInfo(nodes=nodes, **raw)


def _write_cluster(info: ClusterInfo) -> None:
    _write_json(_cluster_file(Path(info.home)), asdict(info))


def status(home: Path = DEFAULT_HOME) -> BrokerInfo | ClusterInfo | None:
    """What runs from `home`: the broker, or the cluster (all nodes) while any node lives."""
    cluster = _read_cluster(home)
    if cluster is not None:
        return cluster if any(is_alive(node.pid) for node in cluster.nodes) else None
    info_file = _info_file(home)
    if not info_file.exists():
        return None
    info = BrokerInfo(**json.loads(info_file.read_text()))
    return info if is_alive(info.pid) else None


def _node_count(running: BrokerInfo | ClusterInfo) -> int:
    return len(running.nodes) if isinstance(running, ClusterInfo) else 1


def _running(home: Path, nodes: int) -> BrokerInfo | ClusterInfo | None:
    """The deployment already running from `home`, refusing one of another size."""
    running = status(home)
    if running is not None and _node_count(running) != nodes:
        raise BrokerError(
            f"{_node_count(running)} node(s) already run from {home}: stop them before "
            f"starting {nodes}"
        )
    return running


@overload
def start(home: Path = ..., port: int | None = ..., nodes: Literal[1] = ...) -> BrokerInfo: ...
@overload
def start(home: Path, port: int | None, nodes: int) -> BrokerInfo | ClusterInfo: ...
def start(
    home: Path = DEFAULT_HOME, port: int | None = None, nodes: int = 1
) -> BrokerInfo | ClusterInfo:
    """Start (or find running) a broker, or a `nodes`-node cluster, living in `home`."""
    if nodes > 1:
        if port is not None:
            raise BrokerError("a cluster picks free ports for its nodes: drop --port")
        return start_cluster(home, nodes)
    running = _running(home, 1)
    if running is not None:
        return running
    classpath = resolve_classpath()
    home.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    controller_port = free_port()
    props = _server_properties(home, 1, port, controller_port, f"127.0.0.1:{controller_port}", 1)
    (home / "server.properties").write_text(props)
    _format(classpath, [home], ["--standalone"], SINGLE_NODE_JVM)
    info = BrokerInfo(
        pid=_launch(classpath, home, SINGLE_NODE_JVM),
        port=port,
        controller_port=controller_port,
        version=kafka_version(classpath),
        home=str(home),
    )
    _info_file(home).write_text(json.dumps(asdict(info)))
    _await_ready(home, home, info.bootstrap_servers, info.pid)
    return info


class _Slot(NamedTuple):
    """Where one cluster node will live, fixed before anything starts."""

    node_id: int
    port: int
    controller_port: int
    node_dir: Path


def _formatted_ports(node_dir: Path) -> tuple[int, int] | None:
    """The broker and controller ports a formatted node was set up with, if any."""
    props_file = node_dir / "server.properties"
    if not (node_dir / "data" / "meta.properties").exists() or not props_file.exists():
        return None
    for line in props_file.read_text().splitlines():
        if line.startswith("listeners="):
            broker, controller = (int(url.rsplit(":", 1)[1]) for url in line.split(","))
            return broker, controller
    return None


def _plan_cluster(home: Path, nodes: int) -> list[_Slot]:
    """Fresh ports for new nodes; a formatted node keeps its own, as the quorum recorded
    each voter's endpoint and a controller that moved would not be found again."""
    fresh = iter(_free_ports(2 * nodes))
    slots = []
    for node_id in range(1, nodes + 1):
        node_dir = home / f"node-{node_id}"
        port, controller_port = _formatted_ports(node_dir) or (next(fresh), next(fresh))
        slots.append(_Slot(node_id, port, controller_port, node_dir))
    return slots


def start_cluster(home: Path, nodes: int = 3) -> ClusterInfo:
    """Start (or find running) a cluster of `nodes` broker+controller nodes under `home`.

    The voters are fixed at format time with `--initial-controllers` (each voter named with
    its metadata directory id), so all nodes agree on the quorum before any of them starts.
    """
    running = _running(home, nodes)
    if isinstance(running, ClusterInfo):
        return running
    classpath = resolve_classpath()
    slots = _plan_cluster(home, nodes)
    quorum = ",".join(f"127.0.0.1:{slot.controller_port}" for slot in slots)
    voters = ",".join(
        f"{slot.node_id}@127.0.0.1:{slot.controller_port}:{_kafka_uuid()}" for slot in slots
    )
    for node_id, port, controller_port, node_dir in slots:
        node_dir.mkdir(parents=True, exist_ok=True)
        props = _server_properties(node_dir, node_id, port, controller_port, quorum, nodes)
        (node_dir / "server.properties").write_text(props)
    dirs = [slot.node_dir for slot in slots]
    _format(classpath, dirs, [f"--initial-controllers={voters}"], CLUSTER_NODE_JVM)
    info = ClusterInfo(
        nodes=[
            NodeInfo(id_, _launch(classpath, dir_, CLUSTER_NODE_JVM), port, ctl, str(dir_))
            for id_, port, ctl, dir_ in slots
        ],
        version=kafka_version(classpath),
        home=str(home),
    )
    _write_cluster(info)
    for node in info.nodes:
        _await_ready(home, Path(node.home), node.bootstrap_servers, node.pid)
    return info


def _cluster(home: Path) -> ClusterInfo:
    cluster = _read_cluster(home)
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
    restarted = replace(node, pid=_launch(resolve_classpath(), Path(node.home), CLUSTER_NODE_JVM))
    nodes = [restarted if n.node_id == node_id else n for n in cluster.nodes]
    _write_cluster(replace(cluster, nodes=nodes))
    try:
        wait_until_ready(restarted.bootstrap_servers, restarted.pid)
    except BrokerError as exc:
        stop_pid(restarted.pid, expect_in_cmdline=MAIN_CLASS)
        tail = _log_tail(Path(node.home))
        raise BrokerError(f"{exc}\n--- node {node_id} log tail ---\n{tail}") from exc
    return restarted


async def partition_state(bootstrap: str, topic: str, partition: int) -> PartitionState:
    """Leader, replicas and ISR of one partition, from a metadata request."""
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=5000)
    await admin.start()
    try:
        topics = await admin.describe_topics([topic])
    finally:
        await admin.close()
    found = [
        part
        for meta in topics
        if meta["topic"] == topic
        for part in meta["partitions"]
        if part["partition"] == partition
    ]
    if not found:
        raise BrokerError(f"metadata has no partition {topic}-{partition}")
    return PartitionState(found[0]["leader"], list(found[0]["replicas"]), list(found[0]["isr"]))


async def partition_leader(bootstrap: str, topic: str, partition: int) -> int:
    """The node id leading `topic`-`partition`; -1 while it has no leader."""
    return (await partition_state(bootstrap, topic, partition)).leader


def _log_tail(home: Path, lines: int = 30) -> str:
    for name in ("logs/server.log", "stdout.log"):
        path = home / name
        if path.exists():
            return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    return "(no log)"


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
    cluster = _read_cluster(home)
    stopped = _stop_cluster(cluster) if cluster else False
    info_file = _info_file(home)
    if info_file.exists():
        info = BrokerInfo(**json.loads(info_file.read_text()))
        stopped |= stop_pid(info.pid, expect_in_cmdline=MAIN_CLASS)
    info_file.unlink(missing_ok=True)
    _cluster_file(home).unlink(missing_ok=True)
    return stopped


def _print_started(info: BrokerInfo | ClusterInfo, began: float) -> None:
    ready = f"ready in {time.monotonic() - began:.1f}s"
    if isinstance(info, BrokerInfo):
        where = f"at {info.bootstrap_servers}, pid {info.pid}"
    else:
        pids = ", ".join(str(node.pid) for node in info.nodes)
        where = f"{len(info.nodes)}-node cluster at {info.bootstrap_servers}, pids {pids}"
    print(f"Apache Kafka {info.version} (KRaft) {where}, {ready}")


def _print_status(info: BrokerInfo | ClusterInfo | None) -> int:
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
    import argparse

    parser = argparse.ArgumentParser(prog="agentstream broker")
    parser.add_argument("action", choices=["start", "stop", "status"])
    parser.add_argument("--home", type=Path, default=DEFAULT_HOME)
    parser.add_argument("--port", type=int, default=None)
    parser.add_argument("--nodes", type=int, default=1, help="3 for a KRaft cluster")
    args = parser.parse_args(argv)
    if args.nodes < 1:
        parser.error("--nodes must be at least 1")
    try:
        if args.action == "start":
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
