"""The deterministic stand-in for the model: a pure function from request to reply.

It splits the user's words into clauses, calls the tool whose name and description overlap
each clause, and fills the tool's input from the clause's words and numbers as its JSON
schema asks."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from local_model.request import (
    assistant_before,
    last_user,
    result_text,
    text_of,
    tool_results,
    tool_uses,
)

CLAUSE_SPLIT = re.compile(r"\s+and\s+|\s+then\s+|[,;?]|\.(?=\s|$)", re.IGNORECASE)
WORD = re.compile(r"[a-z0-9]+")
NUMBER = re.compile(r"(?<![\w.])-?\d+(?:\.\d+)?")
EXPRESSION = re.compile(r"[\d\s+\-*/().^%]+")
OPERATOR = re.compile(r"\d\s*[+\-*/^%]\s*[\d(]|\)\s*[+\-*/^%]")

_STOP_WORDS_TEXT = """
    a about above after again all also am an any are as at be been before being below between
    both but by can could did do does doing down during each few for from further get gets got
    had has have having he her here hers him his how i if in into is it its itself just let me
    more most my no nor not now of off on once only or other our out over own please same she
    should so some such tell than that the their them then there these they this those through
    to too under until up use using very want was we were what whats when where which while who
    whom why will with would you your yours s t d ll m re ve
"""
STOP_WORDS = frozenset(_STOP_WORDS_TEXT.split())

SUFFIXES = (
    *("ations", "ation", "ators", "ator", "ating", "ated", "ates", "ate", "ings", "ing"),
    *("ions", "ion", "ers", "ors", "ies", "ed", "es", "er", "or", "s"),
)

ARITHMETIC_WORDS = frozenset({"calculate", "compute", "evaluate", "math", "arithmetic", "expr"})
"""Words a clause holding an arithmetic expression implicitly contains."""

EXPRESSION_NAMES = ("expression", "expr", "formula", "equation", "calculation")


@dataclass(frozen=True)
class Decision:
    """What the model says: content blocks (tool_use ids left for the server) and why it stops."""

    content: list[dict[str, Any]]
    stop_reason: str


def decide(body: dict[str, Any]) -> Decision:
    """Choose the reply to a Messages API request, honouring `tool_choice`."""
    messages: list[dict[str, Any]] = body.get("messages") or []
    tools = [t for t in body.get("tools") or [] if isinstance(t, dict) and t.get("name")]
    choice = body.get("tool_choice") or {}
    kind = choice.get("type", "auto")
    user = last_user(messages)
    if kind == "tool":
        return forced_call(body, str(choice.get("name")))
    if kind == "none" or not tools or (kind != "any" and tool_results(user)):
        return text_reply(messages)
    prompt = text_of(user) or _source_text(user)
    calls = [call for clause in clauses(prompt) if (call := _clause_call(clause, tools))]
    if kind == "any" and not calls:
        calls = [_call(best_tool(prompt, tools) or tools[0], prompt)]
    if not calls:
        return text_reply(messages)
    return _calls(calls, choice)


def text_reply(messages: list[dict[str, Any]]) -> Decision:
    """A plain answer: a summary of tool results if there are any, else an acknowledgement."""
    user = last_user(messages)
    if tool_results(user):
        answer = results_summary(messages, user)
    else:
        prompt = text_of(user)
        answer = f"Answer: {prompt}" if prompt else "Hello! How can I help?"
    return Decision([{"type": "text", "text": answer}], "end_turn")


def forced_call(body: dict[str, Any], name: str) -> Decision:
    """A single call of tool `name`, as `tool_choice: {"type": "tool"}` demands."""
    messages: list[dict[str, Any]] = body.get("messages") or []
    tool = next((t for t in body.get("tools") or [] if t.get("name") == name), None)
    if tool is None:
        return text_reply(messages)
    source = _source_text(last_user(messages))
    return Decision([_call(tool, source)], "tool_use")


def results_summary(messages: list[dict[str, Any]], user: dict[str, Any]) -> str:
    """One line naming each answered tool call, its input and its result or failure."""
    asked = {u.get("id"): u for u in tool_uses(assistant_before(messages, user))}
    parts: list[str] = []
    for result in tool_results(user):
        use = asked.get(result.get("tool_use_id"), {})
        call = f"{use.get('name', 'unknown_tool')}({_short_input(use.get('input'))})"
        output = shorten(result_text(result), 300)
        parts.append(f"{call} failed: {output}" if result.get("is_error") else f"{call} = {output}")
    return "Results: " + "; ".join(parts)


def score(text: str, tool: dict[str, Any]) -> int:
    """Word overlap between `text` and a tool; words of the tool's name count double."""
    stems = _clause_stems(text)
    return 2 * len(stems & _name_stems(tool)) + len(
        stems & meaningful_stems(str(tool.get("description", "")))
    )


def best_tool(text: str, tools: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The best-scoring tool for `text` (earliest wins ties), or None when nothing overlaps."""
    best: dict[str, Any] | None = None
    best_score = 0
    for tool in tools:
        current = score(text, tool)
        if current > best_score:
            best, best_score = tool, current
    return best


def _clause_call(clause: str, tools: list[dict[str, Any]]) -> dict[str, Any] | None:
    tool = best_tool(clause, tools)
    return _call(tool, clause) if tool else None


def _call(tool: dict[str, Any], source: str) -> dict[str, Any]:
    drop = _clause_stems(source) & _name_stems(tool)
    tool_input = generate_input(tool.get("input_schema"), source, drop)
    return {"type": "tool_use", "name": tool["name"], "input": tool_input}


def _calls(calls: list[dict[str, Any]], choice: dict[str, Any]) -> Decision:
    if choice.get("disable_parallel_tool_use"):
        calls = calls[:1]
    return Decision(calls, "tool_use")


def _source_text(user: dict[str, Any]) -> str:
    """Tool results' text when the user turn carries them, else the user's words."""
    results = tool_results(user)
    if results:
        return " ; ".join(result_text(result) for result in results)
    return text_of(user)


def _clause_stems(text: str) -> set[str]:
    stems = meaningful_stems(text)
    return stems | ARITHMETIC_STEMS if has_arithmetic(text) else stems


def _name_stems(tool: dict[str, Any]) -> set[str]:
    name = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", str(tool.get("name", "")))
    return meaningful_stems(re.sub(r"[_\-.]", " ", name))


def _short_input(tool_input: Any) -> str:
    if not isinstance(tool_input, dict):
        return ""
    pairs = [
        f"{key}={value if isinstance(value, str) else json.dumps(value)}"
        for key, value in tool_input.items()
    ]
    return shorten(", ".join(pairs), 80)


# Tool inputs drawn from a piece of text, shaped by the tool's JSON schema.


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
    source = _Source(text=text, drop_stems=drop_stems or set(), numbers=numbers(text))
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
        found = expressions(source.text)
        value = found[0] if found else ""
    if not value:
        value = strip_words(source.text, source.drop_stems) or source.text.strip()
    value = value or name
    max_length = schema.get("maxLength")
    if isinstance(max_length, int):
        value = value[:max_length]
    min_length = schema.get("minLength")
    if isinstance(min_length, int) and len(value) < min_length:
        value = value.ljust(min_length, ".")
    return value


# Reading a request's words: clauses, stems, numbers and arithmetic.


def clauses(text: str) -> list[str]:
    """The request split into the parts that may each need their own tool call."""
    return [part.strip() for part in CLAUSE_SPLIT.split(text) if part and part.strip()]


def words(text: str) -> list[str]:
    """Lower-case alphanumeric words, in order."""
    return WORD.findall(text.lower())


def stem(word: str) -> str:
    """A crude stem, so `calculate`, `calculator` and `calculation` compare equal."""
    for suffix in SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            word = word[: -len(suffix)]
            break
    if word.endswith("e") and len(word) > 3:
        word = word[:-1]
    return word


def meaningful_stems(text: str) -> set[str]:
    """Stems of the words in `text` that carry meaning (no stop words, no bare numbers)."""
    return {stem(word) for word in words(text) if word not in STOP_WORDS and not word.isdigit()}


def numbers(text: str) -> list[float]:
    """Every number in the text, in order."""
    return [float(found) for found in NUMBER.findall(text)]


def expressions(text: str) -> list[str]:
    """Arithmetic substrings (digits and operators), longest first."""
    found = [part.strip() for part in EXPRESSION.findall(text)]
    candidates = [part for part in found if any(ch.isdigit() for ch in part)]
    return sorted(candidates, key=len, reverse=True)


def has_arithmetic(text: str) -> bool:
    """True when the text holds something like `2 + 3`."""
    return any(OPERATOR.search(candidate) for candidate in expressions(text))


def strip_words(text: str, drop_stems: set[str]) -> str:
    """The text without stop words and words whose stem is in `drop_stems`."""
    kept: list[str] = []
    for token in text.split():
        bare = token.strip(".,;:!?\"'()[]{}")
        lowered = bare.lower()
        if not bare or lowered in STOP_WORDS or lowered.replace("'", "") in STOP_WORDS:
            continue
        if all(stem(word) in drop_stems for word in words(lowered)):
            continue
        kept.append(bare)
    return " ".join(kept)


def shorten(text: str, limit: int) -> str:
    """The text cut to `limit` characters with an ellipsis when it was longer."""
    return text if len(text) <= limit else text[: max(limit - 3, 0)] + "..."


ARITHMETIC_STEMS = frozenset(stem(word) for word in ARITHMETIC_WORDS)
