"""Bytes on the wire <-> pydantic messages. JSON; Kafka batches are zstd-compressed."""

from __future__ import annotations

from typing import TypeVar

from pydantic import BaseModel, TypeAdapter, ValidationError

from topics.messages import Step

M = TypeVar("M", bound=BaseModel)
COMPRESSION = "zstd"
"""Producer batch compression for every producer of the platform."""

_STEP = TypeAdapter(Step)


class DecodeError(ValueError):
    """A message that is not valid JSON or does not match its schema; says which and why."""


def encode(message: BaseModel) -> bytes:
    return message.model_dump_json(exclude_defaults=False).encode()


def encode_key(key: str) -> bytes:
    return key.encode()


def decode(data: bytes | None, model: type[M]) -> M:
    """Parse `data` as `model`, raising DecodeError with a readable reason."""
    if data is None:
        raise DecodeError(f"empty message where {model.__name__} was expected")
    try:
        return model.model_validate_json(data)
    except ValidationError as exc:
        raise DecodeError(_describe(model.__name__, exc)) from exc


def decode_step(data: bytes | None) -> Step:
    """Parse an agent.steps message (model result, tool result or tick)."""
    if data is None:
        raise DecodeError("empty message on the steps topic")
    try:
        return _STEP.validate_json(data)
    except ValidationError as exc:
        raise DecodeError(_describe("step", exc)) from exc


def _describe(what: str, exc: ValidationError) -> str:
    problems = "; ".join(
        f"{'.'.join(str(p) for p in err['loc']) or '(root)'}: {err['msg']}"
        for err in exc.errors()[:5]
    )
    return f"invalid {what}: {problems}"
