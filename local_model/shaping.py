"""Generation limits applied to generated text: `stop_sequences` and `max_tokens`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

CHARS_PER_TOKEN = 4


@dataclass(frozen=True)
class Shaped:
    """Content after limits, with the stop reason and sequence those limits imply."""

    content: list[dict[str, Any]]
    stop_reason: str
    stop_sequence: str | None


def _earliest_stop(text: str, stop_sequences: list[str]) -> tuple[int, str] | None:
    hits = [(text.find(seq), seq) for seq in stop_sequences if seq and seq in text]
    return min(hits, key=lambda hit: hit[0]) if hits else None


def shape_text(
    content: list[dict[str, Any]],
    stop_reason: str,
    max_tokens: int,
    stop_sequences: list[str] | None,
) -> Shaped:
    """Cut a text-only answer at the first stop sequence or at the `max_tokens` budget."""
    if stop_reason != "end_turn" or any(block.get("type") != "text" for block in content):
        return Shaped(content, stop_reason, None)
    text = "".join(str(block.get("text", "")) for block in content)
    budget = max_tokens * CHARS_PER_TOKEN
    stop = _earliest_stop(text, stop_sequences or [])
    if stop is not None and stop[0] <= budget:
        return Shaped(_text_blocks(text[: stop[0]]), "stop_sequence", stop[1])
    if len(text) > budget:
        return Shaped(_text_blocks(text[:budget]), "max_tokens", None)
    return Shaped(content, stop_reason, None)


def _text_blocks(text: str) -> list[dict[str, Any]]:
    return [{"type": "text", "text": text}] if text else []
