"""Registry entries from any language are validated as they are read."""

from __future__ import annotations

import json

from aiokafka import ConsumerRecord

from agents.registry_view import RegistryView
from monitoring import metrics
from tests.support.metrics import counter_value
from topics.names import Topics

TOPICS = Topics("p.")

GOOD = {
    "name": "calc",
    "description": "Compute.\nUse for maths.\nNot for dates.",
    "input_schema": {"type": "object"},
    "timeout_s": 5,
}


def entry(**changes: object) -> bytes:
    return json.dumps({**GOOD, **changes}).encode()


def record(key: bytes, value: bytes | None, tool: str = "calc") -> ConsumerRecord:
    """A record as read from `tool`'s registry topic."""
    topic = TOPICS.tool_registry(tool).name
    size = len(value or b"")
    return ConsumerRecord(topic, 0, 0, 0, 0, key, value, None, len(key), size, ())


def test_a_valid_entry_is_offered_and_a_tombstone_retires_it() -> None:
    view = RegistryView("unused:9092", TOPICS)
    view._apply(record(b"calc", entry()))
    assert view.tools["calc"].timeout_s == 5
    view._apply(record(b"calc", None))
    assert "calc" not in view.tools


def test_bad_entries_are_ignored_counted_and_keep_the_previous_spec() -> None:
    view = RegistryView("unused:9092", TOPICS)
    view._apply(record(b"calc", entry()))
    cases = {
        "invalid_schema": entry(input_schema={"type": "numbr"}),
        "name_mismatch": entry(name="other"),
        "undecodable": b"[" * 100_000,
    }
    for reason, value in cases.items():
        before = counter_value(metrics.REGISTRY_REJECTED, reason)
        view._apply(record(b"calc", value))
        assert counter_value(metrics.REGISTRY_REJECTED, reason) == before + 1
    assert view.tools["calc"].input_schema == {"type": "object"}


def test_an_entry_on_another_tools_topic_is_refused_whatever_it_says() -> None:
    view = RegistryView("unused:9092", TOPICS)
    view._apply(record(b"calc", entry()))
    before = counter_value(metrics.REGISTRY_REJECTED, "wrong_topic")
    view._apply(record(b"calc", entry(input_schema={"type": "string"}), tool="clock"))
    view._apply(record(b"calc", None, tool="clock"))
    assert counter_value(metrics.REGISTRY_REJECTED, "wrong_topic") == before + 2
    assert view.tools["calc"].input_schema == {"type": "object"}


def test_the_pattern_matches_registry_topics_under_the_prefix_only() -> None:
    pattern = TOPICS.tool_registry_pattern
    assert pattern.match("p.tool.calc.registry").group(1) == "calc"
    for other in (
        "tool.calc.registry",
        "p.tool.calc.calls",
        "p.tool.a.b.registry",
        "p.toolXregistry",
    ):
        assert pattern.match(other) is None
