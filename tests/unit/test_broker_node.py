"""The embedded broker's config: request threads sized to the machine."""

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
