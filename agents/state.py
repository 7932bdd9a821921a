"""What the orchestrator remembers about one conversation (a Faust table value).

A running conversation is a `ConversationState`; once it ends, only a
`FinishedConversation` stays (enough to recognise a redelivered request), until its
`forget_at`, when the entry is deleted (a tombstone in the changelog). So the table, the
memory it takes and the time to recover it depend on the conversations in flight and
recently finished, not on how many ever ran.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Discriminator, Field, Tag, TypeAdapter

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
    lease_until: float | None = None
    """Re-publish the call (same tool_use_id) if no result arrived by then."""
    sends: int = 0
    result: dict[str, Any] | None = None
    timed_out: bool = False


class ConversationState(BaseModel):
    """A conversation in flight (status None); `status` is set in the step that ends it."""

    kind: Literal["running"] = "running"
    conversation_id: str
    options: RequestOptions
    """The request minus its input: the input lives once, as the start of `messages`."""
    tools: list[ToolSpec] = Field(default_factory=list)
    started_at: float
    deadline_at: float
    requested_at: float | None = None
    """When the request record was published (its Kafka timestamp). A request read again
    after a crash that came before its state was stored starts a new state, with a later
    `started_at` but this same value (see `answers_since`)."""
    messages: list[dict[str, Any]] = Field(default_factory=list)
    iteration: int = 0
    model_call_id: str | None = None
    model_call_lease_until: float | None = None
    """Re-publish the model call (same call_id) if no result arrived by then."""
    model_call_sends: int = 0
    calls: list[PendingCall] = Field(default_factory=list)
    resolved: dict[str, Resolution] = Field(default_factory=dict)
    errored_tools: list[str] = Field(default_factory=list)
    usage: Usage = Usage()
    cost_usd: float = 0.0
    tool_calls: int = 0
    status: Status | None = None

    @property
    def answers_since(self) -> float:
        """From when an answer on the response topic is this conversation's own: the
        earlier of its start and its request's publication, so the answer given before a
        crash to the same request record counts, while one given to an earlier request
        with this id (refused, or a finished incarnation) does not."""
        if self.requested_at is None:
            return self.started_at
        return min(self.started_at, self.requested_at)

    @property
    def finished(self) -> bool:
        return self.status is not None

    @property
    def reply_topic(self) -> str | None:
        return self.options.reply_topic

    def spec(self, tool: str) -> ToolSpec | None:
        return next((t for t in self.tools if t.name == tool), None)

    def for_update(self) -> ConversationState:
        """A copy a step may change without touching this one (which may be cached).

        Only the containers a step changes are copied; transcript entries, tool specs and
        options are shared, never changed in place. Cheaper than a deep copy of the
        whole transcript on every event.
        """
        new = self.model_copy()
        new.messages = list(self.messages)
        new.calls = [call.model_copy() for call in self.calls]
        new.resolved = dict(self.resolved)
        new.errored_tools = list(self.errored_tools)
        return new

    def retire_calls(self) -> None:
        """Forget the turn's calls, remembering how each ended (to classify late results)."""
        for call in self.calls:
            self.resolved[call.tool_use_id] = "timeout" if call.timed_out else "done"
        self.calls = []

    def next_deadline(self) -> float | None:
        """The earliest moment a tick could change this conversation: its deadline, a
        call's deadline or a call's lease; None once finished."""
        if self.finished:
            return None
        moments = [self.deadline_at]
        if self.model_call_lease_until is not None:
            moments.append(self.model_call_lease_until)
        for call in self.calls:
            if call.status == "dispatched":
                moments += [m for m in (call.deadline_at, call.lease_until) if m is not None]
        return min(moments)


class FinishedConversation(BaseModel):
    """What is kept of a finished conversation, until `forget_at`."""

    kind: Literal["finished"] = "finished"
    conversation_id: str
    status: Status
    reply_topic: str | None = None
    iteration: int = 0
    forget_at: float

    @property
    def finished(self) -> bool:
        return True

    def next_deadline(self) -> float:
        """When a tick should delete this record."""
        return self.forget_at


def _kind(value: Any) -> str:
    if isinstance(value, dict):
        return str(value.get("kind", "running"))
    return str(getattr(value, "kind", "running"))


Stored = Annotated[
    Annotated[ConversationState, Tag("running")] | Annotated[FinishedConversation, Tag("finished")],
    Discriminator(_kind),
]
STORED: TypeAdapter[ConversationState | FinishedConversation] = TypeAdapter(Stored)


StoredState = ConversationState | FinishedConversation


def load_stored(raw: bytes) -> StoredState:
    """Decode a table value of either kind."""
    return STORED.validate_json(raw)
