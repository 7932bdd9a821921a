"""Token accounting that looks like the real API's, prompt caching included."""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field
from typing import Any

from config.settings import CHARS_PER_TOKEN
from local_model.request import blocks


def canonical(value: Any) -> str:
    """Stable JSON text, so equal requests measure and hash the same."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def tokens(chars: int) -> int:
    """Characters to tokens at `CHARS_PER_TOKEN`."""
    return math.ceil(chars / CHARS_PER_TOKEN)


def _without_cache_control(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_cache_control(v) for k, v in value.items() if k != "cache_control"}
    if isinstance(value, list):
        return [_without_cache_control(item) for item in value]
    return value


def prompt_segments(body: dict[str, Any]) -> list[tuple[str, bool]]:
    """The prompt in cache order (tools, system, messages) as (text, carries cache_control)."""
    items: list[Any] = list(body.get("tools") or [])
    system = body.get("system")
    if isinstance(system, str) and system:
        items.append({"type": "text", "text": system})
    elif isinstance(system, list):
        items.extend(system)
    for message in body.get("messages") or []:
        role = message.get("role")
        items.extend({"role": role, **block} for block in blocks(message))
    return [
        (
            canonical(_without_cache_control(item)),
            isinstance(item, dict) and "cache_control" in item,
        )
        for item in items
    ]


def input_tokens(body: dict[str, Any]) -> int:
    """Tokens of the whole prompt (what `count_tokens` reports)."""
    return max(1, tokens(sum(len(text) for text, _ in prompt_segments(body))))


def output_tokens(content: list[dict[str, Any]]) -> int:
    """Tokens of the generated content."""
    return max(1, tokens(len(canonical(content))))


@dataclass
class PromptCache:
    """Remembers cached prompt prefixes so a repeat is billed as a cache read."""

    seen: set[str] = field(default_factory=set)

    def usage(self, body: dict[str, Any], content: list[dict[str, Any]]) -> dict[str, int]:
        """The `usage` object for answering `body` with `content`."""
        segments = prompt_segments(body)
        total = max(1, tokens(sum(len(text) for text, _ in segments)))
        marked = [index for index, (_, cached) in enumerate(segments) if cached]
        created = read = 0
        if marked:
            prefix = [text for text, _ in segments[: marked[-1] + 1]]
            prefix_tokens = min(total, tokens(sum(len(text) for text in prefix)))
            key = hashlib.sha256(
                "\x00".join([str(body.get("model", "")), *prefix]).encode()
            ).hexdigest()
            if key in self.seen:
                read = prefix_tokens
            else:
                self.seen.add(key)
                created = prefix_tokens
        return {
            "input_tokens": max(1, total - created - read),
            "output_tokens": output_tokens(content),
            "cache_creation_input_tokens": created,
            "cache_read_input_tokens": read,
        }
