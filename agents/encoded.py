"""A transition's writes as bytes, each checked against the message size limit."""

from __future__ import annotations

from agents.state import FinishedConversation
from agents.transition import Transition
from topics.codec import encode
from topics.messages import AgentResponse, ModelCall, ToolCall
from topics.names import MAX_PAYLOAD_BYTES


class TooLarge(Exception):
    """Something a transition would write exceeds MAX_PAYLOAD_BYTES."""

    def __init__(self, what: str, size: int) -> None:
        super().__init__(f"{what} would be {size} bytes")
        self.what, self.size = what, size


class Encoded:
    """A transition's state and emits as bytes, checked against the size limit."""

    def __init__(self, transition: Transition, state_changed: bool) -> None:
        self.state: bytes | None = None
        if state_changed and transition.state is not None:
            # Fields at their defaults are left out (they come back on load): the table
            # holds every conversation's bytes in memory, so their size is most of the
            # memory a conversation takes. A finished record keeps its `kind` (not the
            # default), so it leaves out only what it lacks.
            state = transition.state
            if isinstance(state, FinishedConversation):
                self.state = state.model_dump_json(exclude_none=True).encode()
            else:
                self.state = state.model_dump_json(exclude_defaults=True).encode()
            if len(self.state) > MAX_PAYLOAD_BYTES:
                raise TooLarge("state", len(self.state))
        self.emits: list[bytes] = []
        for emit in transition.emits:
            value = encode(emit.message)
            if len(value) > MAX_PAYLOAD_BYTES:
                raise TooLarge(_what(emit.message), len(value))
            self.emits.append(value)


def _what(message: object) -> str:
    """How a refusal names an oversized message."""
    if isinstance(message, ModelCall):
        return "model call"
    if isinstance(message, ToolCall):
        return "tool call"
    return "response" if isinstance(message, AgentResponse) else "event"
