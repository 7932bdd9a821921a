"""Every observation the state machine can make moves exactly the metric meant for it."""

from __future__ import annotations

import dataclasses
import typing

import pytest
from prometheus_client import REGISTRY

from monitoring import observations
from monitoring.metrics import record_observations
from monitoring.observations import Observation

EXPECTED_METRIC = {
    observations.ConversationFinished: "agentstream_conversations_total",
    observations.IterationsUsed: "agentstream_conversation_iterations_count",
    observations.ToolCallOutcome: "agentstream_tool_calls_total",
    observations.ToolRoundTrip: "agentstream_tool_round_trip_seconds_count",
    observations.CallsInTurn: "agentstream_tool_calls_per_turn_count",
    observations.ModelRecovery: "agentstream_model_recoveries_total",
    observations.TokensUsed: "agentstream_tokens_total",
    observations.Spend: "agentstream_cost_usd_total",
    observations.DuplicateRequest: "agentstream_duplicate_requests_total",
    observations.CallRedriven: "agentstream_calls_redriven_total",
    observations.ModelResultDropped: "agentstream_model_results_dropped_total",
}


def _sample(kind: type) -> Observation:
    """One instance of an observation type with a plausible value in every field."""
    values: dict[str, object] = {}
    for field in dataclasses.fields(kind):
        hint = typing.get_type_hints(kind)[field.name]
        if typing.get_origin(hint) is typing.Literal:
            values[field.name] = typing.get_args(hint)[0]
        elif hint is str:
            values[field.name] = "probe"
        else:
            values[field.name] = hint(2)
    return kind(**values)


def _totals() -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every agentstream series: (sample name, labels) -> value."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for metric in REGISTRY.collect()
        for sample in metric.samples
        if sample.name.startswith("agentstream_")
        and not sample.name.endswith(("_created", "_bucket", "_sum"))
    }


def test_every_observation_type_has_an_expected_metric() -> None:
    assert set(typing.get_args(Observation)) == set(EXPECTED_METRIC)


@pytest.mark.parametrize("kind", list(EXPECTED_METRIC), ids=lambda k: k.__name__)
def test_an_observation_moves_its_metric_and_no_other(kind: type) -> None:
    before = _totals()
    record_observations([_sample(kind)])
    after = _totals()
    moved = {name for name, labels in after if after[name, labels] != before.get((name, labels), 0)}
    assert moved == {EXPECTED_METRIC[kind]}


def test_the_same_series_recorded_again_moves_the_exported_value_again() -> None:
    outcome = observations.ToolCallOutcome("probe-again", "ok")
    series = ("agentstream_tool_calls_total", (("outcome", "ok"), ("tool", "probe-again")))
    record_observations([outcome])
    first = _totals()[series]
    record_observations([outcome, outcome])
    assert _totals()[series] == first + 2
