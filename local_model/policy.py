"""The deterministic stand-in for the model: a pure function from request to reply."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from local_model import conversation
from local_model import text as textutil
from local_model.arguments import generate_input

ARITHMETIC_STEMS = frozenset(textutil.stem(word) for word in textutil.ARITHMETIC_WORDS)


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
    user = conversation.last_user(messages)
    if kind == "tool":
        return forced_call(body, str(choice.get("name")))
    if kind == "none" or not tools or (kind != "any" and conversation.tool_results(user)):
        return text_reply(messages)
    prompt = conversation.text_of(user) or _source_text(user)
    calls = [call for clause in textutil.clauses(prompt) if (call := _clause_call(clause, tools))]
    if kind == "any" and not calls:
        calls = [_call(best_tool(prompt, tools) or tools[0], prompt)]
    if not calls:
        return text_reply(messages)
    return _calls(calls, choice)


def text_reply(messages: list[dict[str, Any]]) -> Decision:
    """A plain answer: a summary of tool results if there are any, else an acknowledgement."""
    user = conversation.last_user(messages)
    if conversation.tool_results(user):
        answer = results_summary(messages, user)
    else:
        prompt = conversation.text_of(user)
        answer = f"Answer: {prompt}" if prompt else "Hello! How can I help?"
    return Decision([{"type": "text", "text": answer}], "end_turn")


def forced_call(body: dict[str, Any], name: str) -> Decision:
    """A single call of tool `name`, as `tool_choice: {"type": "tool"}` demands."""
    messages: list[dict[str, Any]] = body.get("messages") or []
    tool = next((t for t in body.get("tools") or [] if t.get("name") == name), None)
    if tool is None:
        return text_reply(messages)
    source = _source_text(conversation.last_user(messages))
    return Decision([_call(tool, source)], "tool_use")


def results_summary(messages: list[dict[str, Any]], user: dict[str, Any]) -> str:
    """One line naming each answered tool call, its input and its result or failure."""
    asked = {
        u.get("id"): u
        for u in conversation.tool_uses(conversation.assistant_before(messages, user))
    }
    parts: list[str] = []
    for result in conversation.tool_results(user):
        use = asked.get(result.get("tool_use_id"), {})
        call = f"{use.get('name', 'unknown_tool')}({_short_input(use.get('input'))})"
        output = textutil.shorten(conversation.result_text(result), 300)
        parts.append(f"{call} failed: {output}" if result.get("is_error") else f"{call} = {output}")
    return "Results: " + "; ".join(parts)


def score(text: str, tool: dict[str, Any]) -> int:
    """Word overlap between `text` and a tool; words of the tool's name count double."""
    stems = _clause_stems(text)
    return 2 * len(stems & _name_stems(tool)) + len(
        stems & textutil.meaningful_stems(str(tool.get("description", "")))
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
    results = conversation.tool_results(user)
    if results:
        return " ; ".join(conversation.result_text(result) for result in results)
    return conversation.text_of(user)


def _clause_stems(text: str) -> set[str]:
    stems = textutil.meaningful_stems(text)
    return stems | ARITHMETIC_STEMS if textutil.has_arithmetic(text) else stems


def _name_stems(tool: dict[str, Any]) -> set[str]:
    name = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", str(tool.get("name", "")))
    return textutil.meaningful_stems(re.sub(r"[_\-.]", " ", name))


def _short_input(tool_input: Any) -> str:
    if not isinstance(tool_input, dict):
        return ""
    pairs = [
        f"{key}={value if isinstance(value, str) else json.dumps(value)}"
        for key, value in tool_input.items()
    ]
    return textutil.shorten(", ".join(pairs), 80)
