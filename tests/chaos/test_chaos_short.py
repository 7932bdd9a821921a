"""The chaos harness, short: ≥100 conversations through two kill -9s, nothing lost.

Runs `bench.chaos` itself (same load, faults and accounting; no logic of its own) on the
session broker: one stack, a tool worker SIGKILLed (not restarted) in the first half of
the submission window and the orchestrator SIGKILLed (restarted after 3 s) in the second.
`python -m bench.chaos` runs the long version, one fault per scenario.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from bench.chaos.brokers import ExternalBroker
from bench.chaos.faults import kill_orchestrator, kill_tool_worker
from bench.chaos.load import Load
from bench.chaos.runner import run_scenario
from bench.chaos.scenarios import Scenario
from tests.conftest import KafkaUnderTest

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

LOAD = Load(conversations=120, rate=20.0, timeout_s=45.0, margin_s=10.0, drain_timeout_s=15.0)
"""6 s of submissions; a conversation unanswered 55 s after it was sent counts as lost."""


def test_no_conversation_is_lost_when_a_tool_worker_and_the_orchestrator_are_killed(
    kafka: KafkaUnderTest, tmp_path: Path
) -> None:
    scenario = Scenario(f"short-{uuid.uuid4().hex[:6]}", (kill_tool_worker, kill_orchestrator))
    result = run_scenario(scenario, LOAD, tmp_path, lambda: ExternalBroker(kafka.bootstrap_servers))
    report = json.dumps(result.as_json(), indent=2)
    print(report)  # shown on failure, or with -s
    assert result.error is None, report
    assert result.sent == LOAD.conversations, report
    assert len(result.faults) == 2, report
    invariants = {
        name: getattr(result, name)
        for name in (
            "never_answered",
            "duplicate_responses",
            "timed_out",
            "tools_executed_more_than_once",
        )
    }
    assert invariants == dict.fromkeys(invariants, 0), report
