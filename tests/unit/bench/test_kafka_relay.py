"""The relay baseline writes what the README says an orchestrator writes per conversation."""

from __future__ import annotations

import json
from collections import Counter

from bench.baselines.kafka_relay import SIZES, STEPS, outputs, record, step_of, topic_names


def test_a_conversation_is_6_records_in_and_17_out() -> None:
    topics = topic_names("t.")
    written = [out for step in range(STEPS) for out in outputs(topics, "c-1", step)]
    kinds = Counter((topic, json.loads(value)["kind"]) for topic, value in written)
    assert STEPS == 6 and len(written) == 17
    assert kinds == {
        (topics["calls"], "call"): 5,
        (topics["out"], "event"): 7,
        (topics["out"], "state"): 4,
        (topics["answers"], "answer"): 1,
    }
    calls = [step_of(v) for t, v in written if t == topics["calls"]]
    assert calls == [("c-1", step) for step in range(1, STEPS)]  # each call asks for the next


def test_records_have_about_the_platforms_sizes() -> None:
    for kind, size in SIZES.items():
        value = record("conversation-0123456789", 3, kind)
        assert abs(len(value) - size) <= 2, kind
        assert step_of(value) == ("conversation-0123456789", 3)
