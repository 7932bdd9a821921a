"""What the orchestrator remembers about one conversation (a Faust table value)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from topics.messages import RequestOptions, Status, ToolSpec, Usage

CallStatus = Literal["waiting", "dispatched", "done"]
Resolution = Literal["done", "timeout"]


class PendingCall(BaseModel):
    """One tool_use block of the current turn and how far it got."""

    tool_use_id: str
    tool: str
    input: dict[str, Any]
    ordered: bool = False
    status: CallStatus = "waiting"
    dispatched_at: float | None = None
    deadline_at: float | None = None
    result: dict[str, Any] | None = None
    timed_out: bool = False


class ConversationState(BaseModel):
    """A conversation in flight (status None) or finished (compacted to its outcome)."""

    conversation_id: str
    options: RequestOptions
    """The request minus its input: the input lives once, as the start of `messages`."""
    tools: list[ToolSpec] = Field(default_factory=list)
    started_at: float
    deadline_at: float
    messages: list[dict[str, Any]] = Field(default_factory=list)
    iteration: int = 0
    model_call_id: str | None = None
    model_call_started_at: float | None = None
    calls: list[PendingCall] = Field(default_factory=list)
    resolved: dict[str, Resolution] = Field(default_factory=dict)
    errored_tools: list[str] = Field(default_factory=list)
    usage: Usage = Usage()
    cost_usd: float = 0.0
    tool_calls: int = 0
    status: Status | None = None

    @property
    def finished(self) -> bool:
        return self.status is not None

    def spec(self, tool: str) -> ToolSpec | None:
        return next((t for t in self.tools if t.name == tool), None)

    def retire_calls(self) -> None:
        """Forget the turn's calls, remembering how each ended (to classify late results)."""
        for call in self.calls:
            self.resolved[call.tool_use_id] = "timeout" if call.timed_out else "done"
        self.calls = []

    def next_deadline(self) -> float | None:
        """The earliest moment a tick could change this conversation; None once finished."""
        if self.finished:
            return None
        pending = [
            c.deadline_at
            for c in self.calls
            if c.status == "dispatched" and c.deadline_at is not None
        ]
        return min([self.deadline_at, *pending])
