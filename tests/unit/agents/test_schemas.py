"""Tool-input and structured-output checks: what the model is told, and what is never done."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agents import schemas
from agents.schemas import compile_schema, schema_error, validation_error

THERMOSTAT = {
    "type": "object",
    "properties": {
        "room": {"type": "string"},
        "degrees": {"type": "integer", "minimum": 5},
        "days": {"type": "array", "items": {"type": "string"}},
    },
    "required": ["room"],
    "additionalProperties": False,
}


def test_a_valid_input_passes_and_an_invalid_one_is_explained_with_its_path() -> None:
    assert validation_error(THERMOSTAT, {"room": "hall", "degrees": 20}) is None
    assert validation_error(THERMOSTAT, {"room": "hall", "degrees": 1}) == (
        "degrees: 1 is less than the minimum of 5"
    )


def test_the_error_nearest_the_top_comes_first() -> None:
    problem = validation_error(THERMOSTAT, {"days": ["mon", 3], "degrees": "warm"})
    assert problem == 'input: "room" is a required property'
    problem = validation_error(THERMOSTAT, {"room": "hall", "days": ["mon", 3]})
    assert problem == 'days/1: 3 is not of type "string"'


def test_a_schema_that_is_not_one_is_reported_not_raised() -> None:
    assert schema_error(THERMOSTAT) is None
    assert schema_error({"type": "nope"}) is not None
    assert schema_error({"$schema": "https://example.com/unknown", "type": "object"})
    problem = schema_error({"properties": {"x": {"$ref": "#/$defs/missing"}}})
    assert problem is not None and "\n" not in problem


def test_a_schema_that_cannot_be_applied_gives_a_one_line_reason() -> None:
    broken = {"type": "object", "properties": {"x": {"$ref": "#/$defs/missing"}}}
    problem = validation_error(broken, {"x": 1})
    assert problem is not None and problem.startswith("the schema could not be applied: ")
    assert "\n" not in problem


def test_references_to_files_are_never_fetched(tmp_path: Path) -> None:
    # Fetched, this reference would make the schema valid and "x" a wrong input.
    target = tmp_path / "string.json"
    target.write_text(json.dumps({"type": "string"}))
    schema = {"$ref": target.as_uri()}
    assert schema_error(schema) is not None
    problem = validation_error(schema, 1)
    assert problem is not None and "could not be applied" in problem


def test_formats_annotate_and_do_not_assert_in_any_draft() -> None:
    for draft in ("http://json-schema.org/draft-07/schema#", None):
        schema = {"type": "string", "format": "email"} | ({"$schema": draft} if draft else {})
        assert validation_error(schema, "not an address") is None


def test_a_schema_is_compiled_once_seen_again_or_equal(monkeypatch: pytest.MonkeyPatch) -> None:
    compiled: list[object] = []

    def counting(schema: object) -> object:
        compiled.append(schema)
        return compile_schema(schema)

    monkeypatch.setattr(schemas, "compile_schema", counting)
    schema = {"type": "object", "required": ["only_in_this_test"]}
    assert validation_error(schema, {}) == 'input: "only_in_this_test" is a required property'
    assert validation_error(schema, {"only_in_this_test": 1}) is None
    assert validation_error(json.loads(json.dumps(schema)), {}) is not None
    assert compiled == [schema]
