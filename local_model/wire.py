"""Identifiers and the message envelope exactly as the Messages API sends them."""

from __future__ import annotations

import uuid
from typing import Any


def message_id() -> str:
    """A fresh `msg_` id for one response."""
    return f"msg_{uuid.uuid4().hex[:24]}"


def tool_use_id() -> str:
    """A fresh `toolu_` id that tool results must echo back."""
    return f"toolu_{uuid.uuid4().hex[:24]}"


def request_id() -> str:
    """A fresh `req_` id for the `request-id` response header."""
    return f"req_{uuid.uuid4().hex[:24]}"


def with_tool_use_ids(content: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Give every tool_use block an id (scripts and the policy may leave it out)."""
    filled: list[dict[str, Any]] = []
    for block in content:
        if block.get("type") == "tool_use" and not block.get("id"):
            block = {**block, "id": tool_use_id()}
        filled.append(block)
    return filled


def message(
    model: str,
    content: list[dict[str, Any]],
    stop_reason: str,
    stop_sequence: str | None,
    usage: dict[str, int],
) -> dict[str, Any]:
    """The success body of `POST /v1/messages`."""
    return {
        "id": message_id(),
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": stop_reason,
        "stop_sequence": stop_sequence,
        "usage": usage,
    }
