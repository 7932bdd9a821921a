"""The embedded broker: request threads sized to the machine, distinct ports."""

from __future__ import annotations

from pathlib import Path

import pytest

from agentstream.broker.node import request_threads, server_properties


@pytest.mark.parametrize(
    ("cores", "network", "handlers"),
    [(1, "1", "2"), (2, "1", "2"), (4, "2", "4"), (8, "3", "8"), (64, "3", "8")],
)
def test_request_threads_follow_the_cores_up_to_kafkas_defaults(
    cores: int, network: str, handlers: str
) -> None:
    assert request_threads(cores) == {
        "num.network.threads": network,
        "num.io.threads": handlers,
    }


def test_a_node_config_carries_the_sized_threads_unless_overridden(tmp_path: Path) -> None:
    def props(overrides: dict[str, str] | None = None) -> dict[str, str]:
        text = server_properties(tmp_path, 1, 9092, 9093, "127.0.0.1:9093", 1, overrides)
        return dict(line.split("=", 1) for line in text.splitlines())

    assert {k: props()[k] for k in request_threads()} == request_threads()
    assert props({"num.io.threads": "5"})["num.io.threads"] == "5"


def test_a_port_handed_out_already_is_not_handed_out_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The system may hand a just-released port out again: a broker once got the same port
    for its listener and its controller, and would not start."""
    from agentstream.broker import ports

    picks = iter([[5000], [5000], [5000], [5001]])
    monkeypatch.setattr(ports, "free_ports", lambda count: next(picks))
    assert ports.free_port() == 5000
    assert ports.free_port(taken={5000}) == 5001
