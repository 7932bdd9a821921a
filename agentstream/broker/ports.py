"""Loopback ports: free ones to listen on, and whether something already listens."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Container


def free_ports(count: int) -> list[int]:
    """`count` distinct loopback ports: all sockets stay bound until every port is picked."""
    with contextlib.ExitStack() as stack:
        socks = [stack.enter_context(socket.socket()) for _ in range(count)]
        for sock in socks:
            sock.bind(("127.0.0.1", 0))
        return [int(sock.getsockname()[1]) for sock in socks]


def free_port(taken: Container[int] = ()) -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago and is not in `taken`: ports
    handed out already whose listeners may not be up yet (the system hands a port that
    was just released out again)."""
    while True:
        port = free_ports(1)[0]
        if port not in taken:
            return port


def port_open(bootstrap: str) -> bool:
    """True when `host:port` accepts a TCP connection: a cheap check before a Kafka client."""
    host, port = bootstrap.rsplit(":", 1)
    try:
        with socket.create_connection((host, int(port)), timeout=0.5):
            return True
    except OSError:
        return False
