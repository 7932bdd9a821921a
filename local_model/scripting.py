"""Chooses each reply: a scenario's scripted turn when one applies, else the policy."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, replace
from typing import Any

from local_model import conversation, policy
from local_model.errors import ApiError, invalid_request
from local_model.scenarios import Scenario, ScenarioLibrary, Turn


@dataclass(frozen=True)
class Reply:
    """The assistant's answer before ids, limits and usage are filled in."""

    content: list[dict[str, Any]]
    stop_reason: str
    stop_sequence: str | None = None
    usage: dict[str, int] | None = None
    """Usage fields that override the computed ones."""
    delay_s: float = 0.0
    generated: bool = True
    """True when the policy wrote it, so `max_tokens` and `stop_sequences` apply."""


def policy_reply(body: dict[str, Any]) -> Reply:
    """The deterministic policy's answer."""
    decision = policy.decide(body)
    return Reply(decision.content, decision.stop_reason)


class Scripts:
    """Serves scripted turns and counts attempts at the ones scripted to fail."""

    def __init__(self, library: ScenarioLibrary) -> None:
        self.library = library
        self.attempts: Counter[str] = Counter()

    def scenario_for(self, body: dict[str, Any]) -> Scenario | None:
        """The scenario named by the token, or a recording of this exact transcript."""
        messages = body.get("messages") or []
        name = conversation.scenario_token(messages)
        if name is not None:
            return self.library.require(name)
        return self.library.find(conversation.recorded_name(messages))

    def reply(self, body: dict[str, Any], body_key: str) -> Reply:
        """The reply to `body`; raises ApiError while a scripted failure lasts."""
        scenario = self.scenario_for(body)
        index = conversation.assistant_turns(body.get("messages") or [])
        turn = scenario.turn(index) if scenario else None
        if scenario is None or turn is None:
            return policy_reply(body)
        self._maybe_fail(scenario, index, turn, body_key)
        if turn.policy or turn.content is None:
            return replace(policy_reply(body), usage=turn.usage, delay_s=turn.delay_s)
        scripted = Reply(
            content=_complete_tool_uses(turn.content, body, scenario.name),
            stop_reason=turn.stop_reason,
            stop_sequence=turn.stop_sequence,
            usage=turn.usage,
            delay_s=turn.delay_s,
            generated=False,
        )
        return obey_tool_choice(scripted, body)

    def _maybe_fail(self, scenario: Scenario, index: int, turn: Turn, body_key: str) -> None:
        """Fail the first `times` attempts; a retry of the same body counts as another."""
        if turn.fail is None:
            return
        self.attempts[body_key] += 1
        attempt = self.attempts[body_key]
        if attempt <= turn.fail.times:
            raise ApiError(
                turn.fail.status,
                f"scripted failure {attempt}/{turn.fail.times} of scenario "
                f"'{scenario.name}' turn {index}",
                injected=True,
            )


def obey_tool_choice(reply: Reply, body: dict[str, Any]) -> Reply:
    """Make a scripted reply respect `tool_choice`, as the real model must."""
    choice = body.get("tool_choice") or {}
    kind = choice.get("type")
    names = [block.get("name") for block in reply.content if block.get("type") == "tool_use"]
    if kind == "none" and names:
        return _from_decision(policy.text_reply(body.get("messages") or []), reply)
    if kind == "tool" and choice.get("name") not in names:
        return _from_decision(policy.forced_call(body, str(choice.get("name"))), reply)
    if kind == "any" and not names:
        return _from_decision(policy.decide(body), reply)
    if choice.get("disable_parallel_tool_use") and len(names) > 1:
        return replace(reply, content=_first_tool_use_only(reply.content))
    return reply


def _from_decision(decision: policy.Decision, scripted: Reply) -> Reply:
    return Reply(decision.content, decision.stop_reason, delay_s=scripted.delay_s)


def _first_tool_use_only(content: list[dict[str, Any]]) -> list[dict[str, Any]]:
    kept: list[dict[str, Any]] = []
    seen_tool_use = False
    for block in content:
        if block.get("type") == "tool_use":
            if seen_tool_use:
                continue
            seen_tool_use = True
        kept.append(block)
    return kept


def _complete_tool_uses(
    content: list[dict[str, Any]], body: dict[str, Any], scenario: str
) -> list[dict[str, Any]]:
    """Fill a scripted tool_use's missing `name` (first request tool) and `input` (policy)."""
    completed: list[dict[str, Any]] = []
    for block in content:
        if block.get("type") == "tool_use" and ("name" not in block or "input" not in block):
            block = dict(block)
            if "name" not in block:
                tools = body.get("tools") or []
                if not tools:
                    raise invalid_request(
                        f"scenario '{scenario}' calls the request's first tool, "
                        "but the request has no tools"
                    )
                block["name"] = tools[0]["name"]
            if "input" not in block:
                generated = policy.forced_call(body, block["name"]).content
                block["input"] = generated[0].get("input", {}) if generated else {}
        completed.append(block)
    return completed
