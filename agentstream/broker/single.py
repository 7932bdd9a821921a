"""`start`: one combined broker+controller on loopback, or a cluster when asked for more nodes."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Literal, overload

from agentstream.broker import secure
from agentstream.broker.classpath import DEFAULT_HOME, kafka_version, resolve_classpath
from agentstream.broker.cluster import start_cluster
from agentstream.broker.errors import BrokerError
from agentstream.broker.home import await_ready, running
from agentstream.broker.node import (
    SINGLE_NODE_JVM,
    format_storage,
    launch,
    server_properties,
    write_properties,
)
from agentstream.broker.ports import free_port, free_ports
from agentstream.broker.records import BrokerInfo, ClusterInfo, write_broker


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
    found = running(home, 1)
    if found is not None:
        return found
    port = port or free_port()
    info = _boot(home, port, free_port(taken={port}))
    await_ready(home, home, info.bootstrap_servers, info.pid)
    return info


def _boot(
    home: Path,
    port: int,
    controller_port: int,
    overrides: dict[str, str] | None = None,
    format_args: list[str] | None = None,
) -> BrokerInfo:
    """Write one node's config, format its storage, launch it and record it (not ready yet)."""
    classpath = resolve_classpath()
    home.mkdir(parents=True, exist_ok=True)
    quorum = f"127.0.0.1:{controller_port}"
    write_properties(home, server_properties(home, 1, port, controller_port, quorum, 1, overrides))
    format_storage(classpath, [home], ["--standalone", *(format_args or [])], SINGLE_NODE_JVM)
    info = BrokerInfo(
        pid=launch(classpath, home, SINGLE_NODE_JVM),
        port=port,
        controller_port=controller_port,
        version=kafka_version(classpath),
        home=str(home),
    )
    write_broker(info)
    return info


@overload
def start_secured(
    home: Path, users: Mapping[str, str] | None = ..., nodes: Literal[1] = ...
) -> tuple[BrokerInfo, secure.Secured]: ...
@overload
def start_secured(
    home: Path, users: Mapping[str, str] | None, nodes: int
) -> tuple[BrokerInfo | ClusterInfo, secure.Secured]: ...
def start_secured(
    home: Path, users: Mapping[str, str] | None = None, nodes: int = 1
) -> tuple[BrokerInfo | ClusterInfo, secure.Secured]:
    """Start (or find running) a node, or a `nodes`-node cluster, whose only client listener
    is SASL_SSL with SCRAM, behind KRaft's StandardAuthorizer; `users` (name -> password)
    can log in from the start."""
    if nodes > 1:
        cluster = start_cluster(home, nodes, dict(users or {}))
        secured = secure.read(home)
        if secured is None:
            raise BrokerError(f"{home} holds a cluster that is not secured; stop it first")
        return cluster, secured
    found, secured = running(home, 1), secure.read(home)
    if found is not None and secured is not None:
        return found, secured
    port, controller_port = free_ports(2)
    secured = secure.prepare(home, [port])
    overrides = secure.properties(secured, home, port, controller_port)
    scram = secure.scram_arguments(secured, dict(users or {}))
    info = _boot(home, port, controller_port, overrides, scram)
    secure.record(home, secured)
    await_ready(home, home, secured.connection(), info.pid)
    return info, secured
