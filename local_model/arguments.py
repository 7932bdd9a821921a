"""Tool inputs drawn from a piece of text, shaped by the tool's JSON schema."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from local_model import text as textutil

EXPRESSION_NAMES = ("expression", "expr", "formula", "equation", "calculation")


class _Skip:
    """Marks an optional property the text has no value for."""


SKIP = _Skip()


@dataclass
class _Source:
    """The text a tool input is drawn from, with its numbers handed out in order."""

    text: str
    drop_stems: set[str]
    numbers: list[float] = field(default_factory=list)
    used: int = 0

    def next_number(self) -> float | None:
        """The next number not yet given to a property."""
        if self.used >= len(self.numbers):
            return None
        self.used += 1
        return self.numbers[self.used - 1]


def generate_input(schema: Any, text: str, drop_stems: set[str] | None = None) -> dict[str, Any]:
    """An input object for `schema` built from `text`; every required property is present."""
    source = _Source(text=text, drop_stems=drop_stems or set(), numbers=textutil.numbers(text))
    value = _object(schema if isinstance(schema, dict) else {}, source)
    return value if isinstance(value, dict) else {}


def _object(schema: dict[str, Any], source: _Source) -> dict[str, Any]:
    properties = schema.get("properties")
    if not isinstance(properties, dict):
        return {}
    required = [name for name in schema.get("required") or [] if name in properties]
    order = required + [name for name in properties if name not in required]
    generated: dict[str, Any] = {}
    for name in order:
        prop = properties[name] if isinstance(properties[name], dict) else {}
        value = _value(name, prop, source, name in required)
        if value is not SKIP:
            generated[name] = value
    return generated


def _resolve(schema: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
    """The schema to follow (first non-null branch of a union) and its JSON type."""
    for key in ("anyOf", "oneOf", "allOf"):
        options = [o for o in schema.get(key) or [] if isinstance(o, dict)]
        options = [o for o in options if o.get("type") != "null"] or options
        if options:
            merged = {k: v for k, v in schema.items() if k != key}
            return _resolve({**merged, **options[0]})
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), kind[0] if kind else None)
    if kind is None and "properties" in schema:
        kind = "object"
    return schema, kind if isinstance(kind, str) else None


def _value(name: str, schema: dict[str, Any], source: _Source, required: bool) -> Any:
    schema, kind = _resolve(schema)
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        return _enum(schema["enum"], source, required)
    if kind in ("number", "integer"):
        return _number(schema, kind, source, required)
    if not required:
        return SKIP
    if kind == "array":
        items = schema.get("items") if isinstance(schema.get("items"), dict) else {}
        return [_value(name, items, source, True)] * max(1, int(schema.get("minItems", 1)))
    if kind == "object":
        return _object(schema, source)
    if kind == "boolean":
        return False
    if kind == "null":
        return None
    return _string(name, schema, source)


def _enum(options: list[Any], source: _Source, required: bool) -> Any:
    lowered = source.text.lower()
    for option in options:
        if re.search(rf"(?<!\w){re.escape(str(option).lower())}(?!\w)", lowered):
            return option
    return options[0] if required and options else SKIP


def _number(schema: dict[str, Any], kind: str, source: _Source, required: bool) -> Any:
    found = source.next_number()
    if found is None and not required:
        return SKIP
    if found is None:
        fallback = schema.get("default", schema.get("minimum", 0))
        found = float(fallback) if isinstance(fallback, int | float) else 0.0
    step = 1 if kind == "integer" else 0.5
    low = schema.get("minimum", _shifted(schema.get("exclusiveMinimum"), step))
    high = schema.get("maximum", _shifted(schema.get("exclusiveMaximum"), -step))
    if low is not None:
        found = max(found, float(low))
    if high is not None:
        found = min(found, float(high))
    if kind == "integer" or found.is_integer():
        return int(found)
    return found


def _shifted(bound: Any, step: float) -> float | None:
    return float(bound) + step if isinstance(bound, int | float) else None


def _string(name: str, schema: dict[str, Any], source: _Source) -> str:
    value = ""
    if any(word in name.lower() for word in EXPRESSION_NAMES):
        found = textutil.expressions(source.text)
        value = found[0] if found else ""
    if not value:
        value = textutil.strip_words(source.text, source.drop_stems) or source.text.strip()
    value = value or name
    max_length = schema.get("maxLength")
    if isinstance(max_length, int):
        value = value[:max_length]
    min_length = schema.get("minLength")
    if isinstance(min_length, int) and len(value) < min_length:
        value = value.ljust(min_length, ".")
    return value
