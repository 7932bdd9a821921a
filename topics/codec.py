"""Bytes on the wire <-> pydantic messages: JSON, decoded with size and depth bounds.

Every consumer of the platform decodes through here, so a hostile payload (too large,
nested 100,000 deep, not UTF-8, NaN where a number belongs) becomes a DecodeError with a
readable reason, never a RecursionError or a stalled parse.
"""

from __future__ import annotations

import json
import re
from typing import Any, TypeVar

import pydantic_core
from pydantic import BaseModel, TypeAdapter, ValidationError

from topics.messages import MAX_CONVERSATION_ID_CHARS, Step
from topics.names import MAX_MESSAGE_BYTES

M = TypeVar("M", bound=BaseModel)
MAX_JSON_DEPTH = 64
"""Deepest nesting any message may have (Messages API content needs far less)."""
MAX_ENVELOPE_SCAN_TOKENS = 1_000_000
"""How far `read_envelope` looks for an id in a document it cannot parse."""

_STEP = TypeAdapter(Step)
_TOKEN = re.compile(rb'"(?:[^"\\]|\\.)*"|[\[\]{}:,]|-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?')


class DecodeError(ValueError):
    """A message that is not valid JSON or does not match its schema; says which and why."""


def encode(message: BaseModel) -> bytes:
    return message.model_dump_json(exclude_defaults=False).encode()


def encode_key(key: str) -> bytes:
    return key.encode()


def parse_json(data: bytes | None, what: str, max_bytes: int = MAX_MESSAGE_BYTES) -> Any:
    """Parse JSON within the size and depth bounds, raising DecodeError otherwise."""
    if data is None:
        raise DecodeError(f"empty message where {what} was expected")
    if len(data) > max_bytes:
        raise DecodeError(f"{what} is {len(data)} bytes; the limit is {max_bytes} bytes")
    try:
        value = pydantic_core.from_json(data)  # recursion-limited, in Rust
    except ValueError as exc:
        if "recursion limit" in str(exc):
            raise DecodeError(f"{what} is nested more than {MAX_JSON_DEPTH} levels deep") from exc
        raise DecodeError(f"{what} is not valid JSON: {exc}") from exc
    if data.count(b"[") + data.count(b"{") > MAX_JSON_DEPTH and _too_deep(value):
        raise DecodeError(f"{what} is nested more than {MAX_JSON_DEPTH} levels deep")
    return value


def decode(data: bytes | None, model: type[M]) -> M:
    """Parse `data` as `model`, raising DecodeError with a readable reason."""
    value = parse_json(data, model.__name__)
    try:
        return model.model_validate(value)
    except ValidationError as exc:
        raise DecodeError(_describe(model.__name__, exc)) from exc


def decode_step(data: bytes | None) -> Step:
    """Parse an agent.steps message (model result, tool result, tick, delivery failure)."""
    value = parse_json(data, "step")
    try:
        return _STEP.validate_python(value)
    except ValidationError as exc:
        raise DecodeError(_describe("step", exc)) from exc


def read_envelope(data: bytes | None) -> tuple[str | None, str | None]:
    """(conversation_id, reply_topic) of a request that failed to decode, where readable.

    A string or integer id at the top level is readable; it is cut to 200 characters and
    invalid UTF-8 becomes U+FFFD. Documents that cannot be parsed (too deep, truncated,
    not UTF-8) are scanned token by token, bounded, for the same two top-level fields.
    """
    if not data:
        return None, None
    try:
        body = pydantic_core.from_json(data) if len(data) <= MAX_MESSAGE_BYTES else None
    except ValueError:
        body = None
    fields = body if isinstance(body, dict) else _scan_top_level(data)
    conversation_id = _readable_id(fields.get("conversation_id"))
    reply_topic = fields.get("reply_topic")
    return conversation_id, reply_topic if isinstance(reply_topic, str) else None


def _readable_id(value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, str | int):
        return None
    text = str(value)[:MAX_CONVERSATION_ID_CHARS]
    return text or None


def _scan_top_level(data: bytes) -> dict[str, Any]:
    """Top-level string/number members of a JSON object that may not parse as a whole."""
    found: dict[str, Any] = {}
    depth, key, expect_value = 0, None, False
    for count, match in enumerate(_TOKEN.finditer(data)):
        if count >= MAX_ENVELOPE_SCAN_TOKENS:
            break
        token = match.group()
        if token in (b"{", b"["):
            depth += 1
            expect_value = False
        elif token in (b"}", b"]"):
            depth -= 1
        elif token == b":":
            expect_value = depth == 1 and key is not None
        elif token == b",":
            key, expect_value = None, False
        elif depth == 1 and expect_value:
            found.setdefault(key, _token_value(token))
            key, expect_value = None, False
        elif depth == 1 and token.startswith(b'"'):
            key = _token_value(token)
    return found


def _token_value(token: bytes) -> Any:
    text = token.decode(errors="replace")
    try:
        return json.loads(text)
    except ValueError:
        return text.strip('"')


def _too_deep(value: Any) -> bool:
    stack: list[tuple[Any, int]] = [(value, 1)] if isinstance(value, dict | list) else []
    while stack:
        node, depth = stack.pop()
        children = node.values() if isinstance(node, dict) else node
        if depth > MAX_JSON_DEPTH:
            return True
        stack.extend((c, depth + 1) for c in children if isinstance(c, dict | list))
    return False


def _describe(what: str, exc: ValidationError) -> str:
    problems = "; ".join(
        f"{'.'.join(str(p) for p in err['loc']) or '(root)'}: {err['msg']}"
        for err in exc.errors()[:5]
    )
    return f"invalid {what}: {problems}"
