"""Deciding each reply: a scenario's scripted turn when one applies, else the policy; then
completing it into a message with ids, generation limits and usage."""

from __future__ import annotations

import json
import uuid
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from config.settings import CHARS_PER_TOKEN
from local_model import policy
from local_model.request import (
    ApiError,
    assistant_turns,
    invalid_request,
    recorded_name,
    scenario_token,
)
from local_model.usage import PromptCache

BUILTIN_DIR = Path(__file__).parent / "scenarios"
"""Scenario files shipped with the package; they win over configured directories."""


class Failure(BaseModel):
    """Answer the first `times` attempts at a turn with HTTP `status`."""

    model_config = ConfigDict(extra="forbid")

    status: int = Field(ge=400, le=599)
    times: int = Field(default=1, ge=0)


class Turn(BaseModel):
    """One scripted assistant reply; `content=None` or `policy=True` defers to the policy."""

    model_config = ConfigDict(extra="forbid")

    content: list[dict[str, Any]] | None = None
    stop_reason: str = "end_turn"
    stop_sequence: str | None = None
    usage: dict[str, int] | None = None
    delay_s: float = Field(default=0.0, ge=0.0)
    fail: Failure | None = None
    policy: bool = False


class Scenario(BaseModel):
    """A named script; `repeat_last` replays the final turn for every later index."""

    model_config = ConfigDict(extra="forbid")

    name: str
    turns: list[Turn] = Field(default_factory=list)
    repeat_last: bool = False

    def turn(self, index: int) -> Turn | None:
        """The turn scripted for the given number of earlier assistant turns, if any."""
        if index < len(self.turns):
            return self.turns[index]
        if self.repeat_last and self.turns:
            return self.turns[-1]
        return None


class ScenarioLibrary:
    """Finds scenarios in the built-in directory, then in each configured one."""

    def __init__(self, extra_dirs: list[Path]) -> None:
        self.dirs = [BUILTIN_DIR, *extra_dirs]
        self._cache: dict[Path, tuple[int, int, Scenario]] = {}

    def names(self) -> list[str]:
        """Every scenario name available, sorted."""
        found = {
            path.stem for folder in self.dirs if folder.is_dir() for path in folder.glob("*.json")
        }
        return sorted(found)

    def find(self, name: str) -> Scenario | None:
        """The scenario called `name` (first directory wins), or None."""
        for folder in self.dirs:
            path = folder / f"{name}.json"
            if path.is_file():
                return self._load(path)
        return None

    def require(self, name: str) -> Scenario:
        """The scenario called `name`, or the 400 the client gets for an unknown one."""
        scenario = self.find(name)
        if scenario is None:
            known = ", ".join(self.names()) or "none"
            raise ApiError(400, f"unknown scenario '{name}'; known scenarios: {known}")
        return scenario

    def _load(self, path: Path) -> Scenario:
        """Parse a scenario file, re-reading it only when it changed on disk."""
        stat = path.stat()
        cached = self._cache.get(path)
        if cached and cached[:2] == (stat.st_mtime_ns, stat.st_size):
            return cached[2]
        try:
            scenario = Scenario.model_validate(json.loads(path.read_text(encoding="utf-8")))
        except (ValueError, ValidationError) as exc:
            raise ApiError(400, f"scenario file {path.name} is invalid: {exc}") from exc
        self._cache[path] = (stat.st_mtime_ns, stat.st_size, scenario)
        return scenario


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
        name = scenario_token(messages)
        if name is not None:
            return self.library.require(name)
        return self.library.find(recorded_name(messages))

    def reply(self, body: dict[str, Any], body_key: str) -> Reply:
        """The reply to `body`; raises ApiError while a scripted failure lasts."""
        scenario = self.scenario_for(body)
        index = assistant_turns(body.get("messages") or [])
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


def fresh_id(prefix: str) -> str:
    """A new id in the API's style: `msg`, `toolu` or `req` then 24 hex digits."""
    return f"{prefix}_{uuid.uuid4().hex[:24]}"


def build_message(
    body: dict[str, Any], reply: Reply, cache: PromptCache, default_model: str
) -> dict[str, Any]:
    """The success body of `POST /v1/messages`: ids assigned, limits applied, usage computed."""
    content = with_tool_use_ids(reply.content)
    stop_reason, stop_sequence = reply.stop_reason, reply.stop_sequence
    if reply.generated:
        shaped = shape_text(content, stop_reason, body["max_tokens"], body.get("stop_sequences"))
        content, stop_reason, stop_sequence = (
            shaped.content,
            shaped.stop_reason,
            shaped.stop_sequence,
        )
    usage = cache.usage(body, content)
    if reply.usage:
        usage.update(reply.usage)
    return {
        "id": fresh_id("msg"),
        "type": "message",
        "role": "assistant",
        "model": str(body.get("model") or default_model),
        "content": content,
        "stop_reason": stop_reason,
        "stop_sequence": stop_sequence,
        "usage": usage,
    }


def with_tool_use_ids(content: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Give every tool_use block an id (scripts and the policy may leave it out)."""
    filled: list[dict[str, Any]] = []
    for block in content:
        if block.get("type") == "tool_use" and not block.get("id"):
            block = {**block, "id": fresh_id("toolu")}
        filled.append(block)
    return filled


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
