"""Provision a real Apache Kafka broker (KRaft, one combined broker+controller) on loopback.

The jars come from Maven Central through `mvn`, resolved from the `pom.xml` shipped
beside this module and cached in the local Maven repository (outside the source tree),
so only the first start downloads anything.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import shutil
import socket
import subprocess
import sys
import time
import uuid
import zipfile
from dataclasses import asdict, dataclass
from pathlib import Path

from agentstream.processes import is_alive, spawn, stop_pid

KAFKA_DIR = Path(__file__).with_name("kafka")
POM = KAFKA_DIR / "pom.xml"
LOG4J_CONFIG = KAFKA_DIR / "log4j2.properties"
CACHE_DIR = Path.home() / ".cache" / "agentstream"
DEFAULT_HOME = CACHE_DIR / "broker"
MAIN_CLASS = "kafka.Kafka"
STARTUP_TIMEOUT_S = 90.0
JVM_OPTS = ("-Xms256m", "-Xmx1g", "-XX:+UseG1GC", "-Djava.awt.headless=true")


class BrokerError(RuntimeError):
    """The broker could not be provisioned, started or reached; the message says why."""


@dataclass(frozen=True)
class BrokerInfo:
    """A running broker started by this module, as recorded in its home directory."""

    pid: int
    port: int
    controller_port: int
    version: str
    home: str

    @property
    def bootstrap_servers(self) -> str:
        return f"127.0.0.1:{self.port}"


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


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _server_properties(home: Path, port: int, controller_port: int) -> str:
    props = {
        "process.roles": "broker,controller",
        "node.id": "1",
        "controller.quorum.bootstrap.servers": f"127.0.0.1:{controller_port}",
        "listeners": f"PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller_port}",
        "advertised.listeners": f"PLAINTEXT://127.0.0.1:{port}",
        "controller.listener.names": "CONTROLLER",
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
        "inter.broker.listener.name": "PLAINTEXT",
        "log.dirs": str(home / "data"),
        "num.partitions": "1",
        "offsets.topic.replication.factor": "1",
        "offsets.topic.num.partitions": "8",
        "transaction.state.log.replication.factor": "1",
        "transaction.state.log.min.isr": "1",
        "transaction.state.log.num.partitions": "4",
        "share.coordinator.state.topic.replication.factor": "1",
        "share.coordinator.state.topic.min.isr": "1",
        "group.initial.rebalance.delay.ms": "0",
        "message.max.bytes": str(8 * 1024 * 1024),
        "auto.create.topics.enable": "true",
    }
    return "".join(f"{key}={value}\n" for key, value in props.items())


def _cluster_id() -> str:
    return base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")


def _java_cmd(classpath: str, home: Path, main: list[str]) -> list[str]:
    return [
        _require("java"),
        *JVM_OPTS,
        f"-Dkafka.logs.dir={home / 'logs'}",
        f"-Dlog4j2.configurationFile={LOG4J_CONFIG}",
        "-cp",
        classpath,
        *main,
    ]


def _format_storage(classpath: str, home: Path, props_file: Path) -> None:
    if (home / "data" / "meta.properties").exists():
        return
    cmd = _java_cmd(
        classpath,
        home,
        [
            "kafka.tools.StorageTool",
            "format",
            "--standalone",
            f"--cluster-id={_cluster_id()}",
            "-c",
            str(props_file),
        ],
    )
    result = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise BrokerError(f"formatting KRaft storage failed:\n{result.stdout}{result.stderr}")


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


def _info_file(home: Path) -> Path:
    return home / "broker.json"


def status(home: Path = DEFAULT_HOME) -> BrokerInfo | None:
    """The broker recorded in `home` if its process is still alive."""
    info_file = _info_file(home)
    if not info_file.exists():
        return None
    info = BrokerInfo(**json.loads(info_file.read_text()))
    return info if is_alive(info.pid) else None


def start(home: Path = DEFAULT_HOME, port: int | None = None) -> BrokerInfo:
    """Start (or find running) a broker whose data, logs and PID live in `home`."""
    running = status(home)
    if running is not None:
        return running
    classpath = resolve_classpath()
    home.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    controller_port = free_port()
    props_file = home / "server.properties"
    props_file.write_text(_server_properties(home, port, controller_port))
    _format_storage(classpath, home, props_file)
    proc = spawn(_java_cmd(classpath, home, [MAIN_CLASS, str(props_file)]), home / "stdout.log")
    info = BrokerInfo(
        pid=proc.pid,
        port=port,
        controller_port=controller_port,
        version=kafka_version(classpath),
        home=str(home),
    )
    _info_file(home).write_text(json.dumps(asdict(info)))
    try:
        wait_until_ready(info.bootstrap_servers, info.pid)
    except BrokerError as exc:
        stop(home)
        tail = _log_tail(home)
        raise BrokerError(f"{exc}\n--- broker log tail ---\n{tail}") from exc
    return info


def _log_tail(home: Path, lines: int = 30) -> str:
    for name in ("logs/server.log", "stdout.log"):
        path = home / name
        if path.exists():
            return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    return "(no log)"


def stop(home: Path = DEFAULT_HOME) -> bool:
    """Stop exactly the broker PID recorded in `home`; False if none was running."""
    info_file = _info_file(home)
    if not info_file.exists():
        return False
    info = BrokerInfo(**json.loads(info_file.read_text()))
    stopped = stop_pid(info.pid, expect_in_cmdline=MAIN_CLASS)
    info_file.unlink(missing_ok=True)
    return stopped


def main(argv: list[str]) -> int:
    """`agentstream broker start|stop|status [--home DIR] [--port N]`."""
    import argparse

    parser = argparse.ArgumentParser(prog="agentstream broker")
    parser.add_argument("action", choices=["start", "stop", "status"])
    parser.add_argument("--home", type=Path, default=DEFAULT_HOME)
    parser.add_argument("--port", type=int, default=None)
    args = parser.parse_args(argv)
    try:
        if args.action == "start":
            began = time.monotonic()
            info = start(args.home, args.port)
            print(
                f"Apache Kafka {info.version} (KRaft) at {info.bootstrap_servers}, "
                f"pid {info.pid}, ready in {time.monotonic() - began:.1f}s"
            )
        elif args.action == "stop":
            print("broker stopped" if stop(args.home) else "no broker was running")
        else:
            info = status(args.home)
            if info is None:
                print("no broker running")
                return 1
            print(f"Apache Kafka {info.version} at {info.bootstrap_servers}, pid {info.pid}")
    except BrokerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0
