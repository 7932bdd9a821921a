"""The scenarios: a platform shape and the faults it takes, and when in the window they land."""

from __future__ import annotations

import random
from dataclasses import dataclass

from bench.chaos.brokers import cluster_available
from bench.chaos.faults import (
    Fault,
    kill_broker,
    kill_model_worker,
    kill_one_of_two_orchestrators,
    kill_orchestrator,
    kill_partition_leader,
    kill_tool_worker,
    sigterm_orchestrator,
)

FAULT_WINDOW = (0.25, 0.75)
"""Faults land at a random moment between these fractions of the submission window."""


@dataclass(frozen=True)
class Scenario:
    """A platform shape plus the faults applied to it during one submission window."""

    name: str
    faults: tuple[Fault, ...]
    orchestrators: int = 1
    broker: str = "shared"
    """`shared` (one broker for many scenarios), `own` (killable) or `cluster` (3 nodes)."""


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in [
        Scenario("tool-worker-kill", (kill_tool_worker,)),
        Scenario("model-worker-kill", (kill_model_worker,)),
        Scenario("orchestrator-kill", (kill_orchestrator,)),
        Scenario("orchestrator-kill-one-of-two", (kill_one_of_two_orchestrators,), 2),
        Scenario("broker-kill", (kill_broker,), broker="own"),
        Scenario("orchestrator-sigterm", (sigterm_orchestrator,)),
        # Needs broker.start_cluster; raises ScenarioUnavailable where it does not exist.
        Scenario("leader-kill", (kill_partition_leader,), broker="cluster"),
        Scenario("baseline", ()),
    ]
}
DEFAULT_SCENARIOS = [
    name
    for name in SCENARIOS
    if name != "baseline" and (name != "leader-kill" or cluster_available())
]
"""Every fault scenario; `leader-kill` only where agentstream.broker can start a cluster."""


def fault_moments(count: int, window_s: float, rng: random.Random) -> list[float]:
    """One moment per fault, each in its own slice of the middle of the window, in order."""
    low, high = FAULT_WINDOW
    width = (high - low) / max(count, 1)
    return [window_s * (low + width * (i + rng.random())) for i in range(count)]
