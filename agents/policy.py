"""Per-request policies resolved against platform defaults: caps, deadlines, tool_choice."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from agents.structured_output import OUTPUT_TOOL
from config.settings import Settings
from topics.messages import RequestOptions


@dataclass(frozen=True)
class Defaults:
    """Platform-wide limits that a request may tighten or loosen within bounds."""

    model: str
    max_tokens: int = 1024
    max_iterations: int = 10
    max_tool_calls_per_turn: int = 8
    tool_timeout_s: float = 30.0
    conversation_timeout_s: float = 300.0
    call_lease_s: float = 10.0
    """A call without a result after this long is published again under the same id."""
    finished_retention_s: float = 3600.0
    """How long a finished conversation's id is remembered (to spot redelivered requests)."""

    @classmethod
    def of(cls, settings: Settings) -> Defaults:
        return cls(
            model=settings.model,
            max_tokens=settings.model_max_tokens,
            max_iterations=settings.max_iterations,
            max_tool_calls_per_turn=settings.max_tool_calls_per_turn,
            tool_timeout_s=settings.tool_timeout_s,
            conversation_timeout_s=settings.conversation_timeout_s,
            call_lease_s=settings.call_lease_s,
            finished_retention_s=settings.finished_retention_s,
        )


@dataclass(frozen=True)
class Limits:
    """The limits in force for one conversation."""

    max_iterations: int
    max_tool_calls_per_turn: int
    timeout_s: float

    @classmethod
    def of(cls, request: RequestOptions, defaults: Defaults) -> Limits:
        return cls(
            max_iterations=request.max_iterations or defaults.max_iterations,
            max_tool_calls_per_turn=(
                request.max_tool_calls_per_turn or defaults.max_tool_calls_per_turn
            ),
            timeout_s=request.timeout_s or defaults.conversation_timeout_s,
        )


def tool_choice_for(
    request: RequestOptions, iteration: int, limits: Limits, has_tools: bool
) -> dict[str, Any] | None:
    """The tool_choice of model call number `iteration` (1-based); None sends no tools.

    Structured output forces the output tool once no other tool remains to gather with
    (or on the last allowed turn); `final_turn_none` makes the last turn answer in text.
    """
    if not has_tools and request.output_schema is None:
        return None
    last_turn = iteration >= limits.max_iterations
    choice: dict[str, Any]
    if request.output_schema is not None:
        forced = last_turn or not request.tools
        choice = {"type": "tool", "name": OUTPUT_TOOL} if forced else {"type": "any"}
    elif request.final_turn_none and last_turn:
        choice = {"type": "none"}
    else:
        choice = request.tool_choice.model_dump(exclude_none=True)
    if request.disable_parallel_tool_use and choice["type"] != "none":
        choice["disable_parallel_tool_use"] = True
    return choice
