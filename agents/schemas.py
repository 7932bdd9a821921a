"""JSON-schema checks for tool inputs and structured output (pure, cached validators)."""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError
from jsonschema.validators import validator_for

MAX_ERROR_CHARS = 300


@lru_cache(maxsize=256)
def _validator(schema_json: str) -> Draft202012Validator:
    schema = json.loads(schema_json)
    cls = validator_for(schema, default=Draft202012Validator)
    return cls(schema)


def schema_error(schema: dict[str, Any]) -> str | None:
    """Why `schema` is not a usable JSON schema, or None."""
    try:
        validator_for(schema, default=Draft202012Validator).check_schema(schema)
    except SchemaError as exc:
        return exc.message[:MAX_ERROR_CHARS]
    except Exception as exc:  # e.g. an unknown $schema: unusable all the same
        return f"{type(exc).__name__}: {exc}"[:MAX_ERROR_CHARS]
    return None


def validation_error(schema: dict[str, Any], instance: Any) -> str | None:
    """The first reason `instance` violates `schema`, phrased for the model; None if valid."""
    try:
        validator = _validator(json.dumps(schema, sort_keys=True))
        errors = sorted(validator.iter_errors(instance), key=lambda e: list(e.path))
    except Exception as exc:  # a schema that passed check_schema yet cannot be applied
        return f"the schema could not be applied ({type(exc).__name__}: {exc})"[:MAX_ERROR_CHARS]
    if not errors:
        return None
    first = errors[0]
    where = "/".join(str(p) for p in first.path) or "input"
    return f"{where}: {first.message}"[:MAX_ERROR_CHARS]
