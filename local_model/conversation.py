"""Read-only views of a request's messages that the policy, scripts and recorder share."""

from __future__ import annotations

import hashlib
import re
from typing import Any

SCENARIO_TOKEN = re.compile(r"\[scenario:([A-Za-z0-9_.\-]+)\]")


def blocks(message: dict[str, Any]) -> list[dict[str, Any]]:
    """A message's content as blocks, whether it was sent as a string or a list."""
    content = message.get("content")
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    if isinstance(content, list):
        return [block for block in content if isinstance(block, dict)]
    return []


def text_of(message: dict[str, Any]) -> str:
    """The message's text blocks joined, without scenario tokens."""
    texts = [str(b.get("text", "")) for b in blocks(message) if b.get("type") == "text"]
    return SCENARIO_TOKEN.sub("", " ".join(texts)).strip()


def first_user_text(messages: list[dict[str, Any]]) -> str:
    """Raw text of the first user message, scenario token included."""
    for message in messages:
        if message.get("role") == "user":
            parts = [b.get("text", "") for b in blocks(message) if b.get("type") == "text"]
            return " ".join(str(part) for part in parts)
    return ""


def scenario_token(messages: list[dict[str, Any]]) -> str | None:
    """The `[scenario:<name>]` name in the first user message, if any."""
    found = SCENARIO_TOKEN.search(first_user_text(messages))
    return found.group(1) if found else None


def recorded_name(messages: list[dict[str, Any]]) -> str:
    """The scenario name a transcript without a scenario token is recorded under."""
    digest = hashlib.sha256(first_user_text(messages).encode("utf-8")).hexdigest()
    return f"recorded-{digest[:12]}"


def last_user(messages: list[dict[str, Any]]) -> dict[str, Any]:
    """The latest user message (an empty one if there is none)."""
    for message in reversed(messages):
        if message.get("role") == "user":
            return message
    return {"role": "user", "content": []}


def assistant_before(messages: list[dict[str, Any]], target: dict[str, Any]) -> dict[str, Any]:
    """The assistant message right before `target`, whose tool calls it answers."""
    index = next((i for i, m in enumerate(messages) if m is target), len(messages))
    for message in reversed(messages[:index]):
        if message.get("role") == "assistant":
            return message
    return {"role": "assistant", "content": []}


def assistant_turns(messages: list[dict[str, Any]]) -> int:
    """How many assistant turns the conversation already has (the scripted turn index)."""
    return sum(1 for message in messages if message.get("role") == "assistant")


def tool_uses(message: dict[str, Any]) -> list[dict[str, Any]]:
    """The tool_use blocks of a message."""
    return [block for block in blocks(message) if block.get("type") == "tool_use"]


def tool_results(message: dict[str, Any]) -> list[dict[str, Any]]:
    """The tool_result blocks of a message."""
    return [block for block in blocks(message) if block.get("type") == "tool_result"]


def result_text(result: dict[str, Any]) -> str:
    """A tool_result's content flattened to text."""
    content = result.get("content")
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    parts: list[str] = []
    for block in content if isinstance(content, list) else []:
        if isinstance(block, dict) and block.get("type") == "text":
            parts.append(str(block.get("text", "")))
        elif isinstance(block, dict):
            parts.append(f"[{block.get('type', 'block')}]")
    return " ".join(parts)
