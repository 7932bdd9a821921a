"""Registry entries from any language are validated as they are read."""

from __future__ import annotations

import json

from agents.registry_view import RegistryView
from monitoring import metrics
from tests.support.metrics import counter_value

GOOD = {
    "name": "calc",
    "description": "Compute.\nUse for maths.\nNot for dates.",
    "input_schema": {"type": "object"},
    "timeout_s": 5,
}


def entry(**changes: object) -> bytes:
    return json.dumps({**GOOD, **changes}).encode()


def test_a_valid_entry_is_offered_and_a_tombstone_retires_it() -> None:
    view = RegistryView("unused:9092", "tool.registry")
    view._apply(b"calc", entry())
    assert view.tools["calc"].timeout_s == 5
    view._apply(b"calc", None)
    assert "calc" not in view.tools


def test_bad_entries_are_ignored_counted_and_keep_the_previous_spec() -> None:
    view = RegistryView("unused:9092", "tool.registry")
    view._apply(b"calc", entry())
    cases = {
        "invalid_schema": entry(input_schema={"type": "numbr"}),
        "name_mismatch": entry(name="other"),
        "undecodable": b"[" * 100_000,
    }
    for reason, value in cases.items():
        before = counter_value(metrics.REGISTRY_REJECTED, reason)
        view._apply(b"calc", value)
        assert counter_value(metrics.REGISTRY_REJECTED, reason) == before + 1
    assert view.tools["calc"].input_schema == {"type": "object"}
