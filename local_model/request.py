"""A Messages API request: read-only views of its conversation, and the checks the real API
makes on it, failing with the same kind of 400."""

from __future__ import annotations

import hashlib
import re
from typing import Any

SCENARIO_TOKEN = re.compile(r"\[scenario:([A-Za-z0-9_.\-]+)\]")
TOOL_CHOICE_TYPES = frozenset({"auto", "any", "tool", "none"})


class ApiError(Exception):
    """A request the server answers with an HTTP error instead of a message."""

    def __init__(self, status: int, message: str, *, injected: bool = False) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.injected = injected
        """True for deliberate faults (fault_rate or a scenario's `fail`), not real problems."""


def invalid_request(message: str) -> ApiError:
    """The 400 the real API sends for a malformed request."""
    return ApiError(400, message)


# Read-only views of the conversation that validation, usage, replies and the recorder share.


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


# Validation: the first problem found is the 400's message, as with the real API.


def validate_request(body: Any) -> None:
    """Raise a 400 ApiError describing the first problem with a Messages API request."""
    if not isinstance(body, dict):
        raise invalid_request("request body must be a JSON object")
    _check_max_tokens(body.get("max_tokens"))
    messages = body.get("messages")
    _check_messages(messages)
    _check_tool_pairs(messages)
    _check_tools(body.get("tools"))
    _check_tool_choice(body.get("tool_choice"), body.get("tools") or [])
    _check_stop_sequences(body.get("stop_sequences"))
    _check_system(body.get("system"))


def _check_max_tokens(max_tokens: Any) -> None:
    if max_tokens is None:
        raise invalid_request("max_tokens: Field required")
    if isinstance(max_tokens, bool) or not isinstance(max_tokens, int):
        raise invalid_request("max_tokens: Input should be a valid integer")
    if max_tokens < 1:
        raise invalid_request("max_tokens: Input should be greater than or equal to 1")


def _check_messages(messages: Any) -> None:
    if not isinstance(messages, list) or not messages:
        raise invalid_request("messages: at least one message is required")
    previous: str | None = None
    for index, message in enumerate(messages):
        if not isinstance(message, dict):
            raise invalid_request(f"messages.{index}: Input should be an object")
        role = message.get("role")
        if role not in ("user", "assistant"):
            raise invalid_request(f"messages.{index}.role: Input should be 'user' or 'assistant'")
        if not isinstance(message.get("content"), str | list):
            raise invalid_request(f"messages.{index}.content: Input should be a string or a list")
        if index == 0 and role != "user":
            raise invalid_request('messages: first message must use the "user" role')
        if role == previous:
            raise invalid_request(
                f'messages: roles must alternate between "user" and "assistant", '
                f'but found multiple "{role}" roles in a row'
            )
        previous = role


def _check_tool_pairs(messages: list[dict[str, Any]]) -> None:
    """Every tool_use is answered by exactly one tool_result in the very next message."""
    for index, message in enumerate(messages):
        if message["role"] != "user":
            continue
        results = tool_results(message)
        asked = [use.get("id") for use in tool_uses(messages[index - 1])] if index > 0 else []
        answered = [result.get("tool_use_id") for result in results]
        unknown = [tid for tid in answered if tid not in asked]
        if unknown:
            raise invalid_request(
                f"messages.{index}.content: unexpected `tool_use_id` found in `tool_result` "
                f"blocks: {', '.join(map(str, unknown))}. Each `tool_result` block must have a "
                "corresponding `tool_use` block in the previous message."
            )
        duplicated = sorted({str(tid) for tid in answered if answered.count(tid) > 1})
        if duplicated:
            raise invalid_request(
                f"messages.{index}.content: each `tool_use` id must be answered by exactly one "
                f"`tool_result` block, found duplicates: {', '.join(duplicated)}"
            )
        missing = [tid for tid in asked if tid not in answered]
        if missing:
            raise invalid_request(
                f"messages.{index - 1}: `tool_use` ids were found without `tool_result` blocks "
                f"immediately after: {', '.join(map(str, missing))}. Each `tool_use` block must "
                "have a corresponding `tool_result` block in the next message."
            )


def _check_tools(tools: Any) -> None:
    if tools is None:
        return
    if not isinstance(tools, list):
        raise invalid_request("tools: Input should be a list")
    names: set[str] = set()
    for index, tool in enumerate(tools):
        if not isinstance(tool, dict) or not isinstance(tool.get("name"), str):
            raise invalid_request(f"tools.{index}.name: Field required")
        if tool["name"] in names:
            raise invalid_request(f"tools: Tool names must be unique, repeated: {tool['name']}")
        names.add(tool["name"])


def _check_tool_choice(choice: Any, tools: list[dict[str, Any]]) -> None:
    if choice is None:
        return
    if not isinstance(choice, dict) or choice.get("type") not in TOOL_CHOICE_TYPES:
        raise invalid_request("tool_choice.type: Input should be 'auto', 'any', 'tool' or 'none'")
    kind = choice["type"]
    if kind in ("any", "tool") and not tools:
        raise invalid_request(f"tool_choice: type '{kind}' requires at least one tool in `tools`")
    if kind == "tool":
        names = [tool["name"] for tool in tools]
        if choice.get("name") not in names:
            raise invalid_request(
                f"tool_choice: tool '{choice.get('name')}' not found in `tools` "
                f"(available: {', '.join(names)})"
            )


def _check_stop_sequences(stop_sequences: Any) -> None:
    if stop_sequences is None:
        return
    if not isinstance(stop_sequences, list) or not all(
        isinstance(seq, str) and seq for seq in stop_sequences
    ):
        raise invalid_request("stop_sequences: Input should be a list of non-empty strings")


def _check_system(system: Any) -> None:
    if system is None or isinstance(system, str):
        return
    if not isinstance(system, list) or not all(
        isinstance(block, dict) and block.get("type") == "text" for block in system
    ):
        raise invalid_request("system: Input should be a string or a list of text blocks")
