"""Every message on every topic, as versioned pydantic models (JSON on the wire)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from topics.names import TOOL_NAME_PATTERN

SCHEMA_VERSION = 1
MAX_DEAD_LETTER_PAYLOAD = 100_000
MAX_CONVERSATION_ID_CHARS = 200
ConversationId = Annotated[str, Field(min_length=1, max_length=MAX_CONVERSATION_ID_CHARS)]
ToolName = Annotated[str, Field(pattern=TOOL_NAME_PATTERN.pattern)]
MAX_METADATA_ENTRIES = 32
MetadataKey = Annotated[str, Field(min_length=1, max_length=64)]
MetadataValue = Annotated[str, Field(max_length=1024)]

Status = Literal[
    "completed",  # end_turn (or structured output delivered)
    "max_tokens",
    "refusal",
    "stop_sequence",
    "model_context_window_exceeded",
    "max_iterations",
    "timed_out",
    "budget_exceeded",
    "failed",
    "invalid_request",
]
StopReason = Literal[
    "end_turn",
    "tool_use",
    "max_tokens",
    "stop_sequence",
    "pause_turn",
    "refusal",
    "model_context_window_exceeded",
]


class Message(BaseModel):
    """Base for wire messages: versioned, finite numbers only, strict about unknown fields
    only where it helps."""

    model_config = ConfigDict(extra="ignore", frozen=True, allow_inf_nan=False)
    schema_version: int = SCHEMA_VERSION

    @field_validator("schema_version")
    @classmethod
    def _supported_version(cls, version: int) -> int:
        if version != SCHEMA_VERSION:
            raise ValueError(
                f"unsupported schema_version {version}: this platform reads version "
                f"{SCHEMA_VERSION}"
            )
        return version


class ToolChoice(BaseModel):
    """The Messages API tool_choice, minus disable_parallel_tool_use (a request field)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    type: Literal["auto", "any", "tool", "none"] = "auto"
    name: str | None = None

    @model_validator(mode="after")
    def _name_iff_tool(self) -> ToolChoice:
        if (self.type == "tool") != (self.name is not None):
            raise ValueError("tool_choice.name is required for type 'tool' and only for it")
        return self


class Usage(BaseModel):
    """Token counts as Anthropic reports them (input excludes cached tokens)."""

    model_config = ConfigDict(extra="ignore")
    input_tokens: int = 0
    output_tokens: int = 0
    cache_creation_input_tokens: int = 0
    cache_read_input_tokens: int = 0

    def plus(self, other: Usage) -> Usage:
        return Usage(
            input_tokens=self.input_tokens + other.input_tokens,
            output_tokens=self.output_tokens + other.output_tokens,
            cache_creation_input_tokens=(
                self.cache_creation_input_tokens + other.cache_creation_input_tokens
            ),
            cache_read_input_tokens=self.cache_read_input_tokens + other.cache_read_input_tokens,
        )

    @property
    def total(self) -> int:
        return (
            self.input_tokens
            + self.output_tokens
            + self.cache_creation_input_tokens
            + self.cache_read_input_tokens
        )


class RequestOptions(BaseModel):
    """Everything a request asks for besides its id and its input; the orchestrator keeps
    these in the conversation state (the input itself is kept once, as the transcript)."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)
    system: str | None = None
    tools: list[ToolName] = Field(default_factory=list, max_length=64)
    tool_choice: ToolChoice = ToolChoice()
    final_turn_none: bool = False
    disable_parallel_tool_use: bool = False
    max_iterations: int | None = Field(default=None, ge=1, le=100)
    max_tool_calls_per_turn: int | None = Field(default=None, ge=1, le=64)
    timeout_s: float | None = Field(default=None, gt=0, le=86_400)
    output_schema: dict[str, Any] | None = None
    model: str | None = Field(default=None, min_length=1, max_length=100)
    max_tokens: int | None = Field(default=None, ge=1, le=128_000)
    max_cost_usd: float | None = Field(default=None, gt=0)
    max_tokens_total: int | None = Field(default=None, ge=1)
    reply_topic: str | None = Field(default=None, min_length=1, max_length=10_000)
    return_transcript: bool = False
    metadata: dict[MetadataKey, MetadataValue] = Field(
        default_factory=dict, max_length=MAX_METADATA_ENTRIES
    )


class AgentRequest(Message, RequestOptions):
    """agent.requests (key: conversation_id): one conversation for the orchestrator to run."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)
    conversation_id: ConversationId
    prompt: str | None = None
    messages: list[dict[str, Any]] | None = None

    @model_validator(mode="after")
    def _one_input(self) -> AgentRequest:
        if (self.prompt is None) == (self.messages is None):
            raise ValueError("give exactly one of 'prompt' or 'messages'")
        if self.messages is not None and not self.messages:
            raise ValueError("'messages' must not be empty")
        return self

    def options(self) -> RequestOptions:
        """The request without its id and input (what the conversation state keeps)."""
        return RequestOptions.model_validate(
            self.model_dump(include=set(RequestOptions.model_fields))
        )


class ToolSpec(Message):
    """tool.<name>.registry (key: tool name, compacted): what a tool is and how to call it."""

    name: ToolName
    description: str = Field(max_length=10_000)
    input_schema: dict[str, Any]
    timeout_s: float = Field(gt=0, le=86_400)
    ordered: bool = False

    def definition(self) -> dict[str, Any]:
        """The tool as the Messages API wants it."""
        return {
            "name": self.name,
            "description": self.description,
            "input_schema": self.input_schema,
        }


class ModelCall(Message):
    """model.calls (key: conversation_id): one Messages API call to execute."""

    conversation_id: ConversationId
    call_id: str
    params: dict[str, Any]
    deadline_at: float


class ErrorInfo(BaseModel):
    """A failure as the platform reports it: type name and a message safe to log."""

    type: str
    message: str
    retryable: bool = False


class ModelResult(Message):
    """agent.steps (key: conversation_id): the answer, or failure, of one ModelCall."""

    kind: Literal["model_result"] = "model_result"
    conversation_id: ConversationId
    call_id: str
    model: str = ""
    content: list[dict[str, Any]] = Field(default_factory=list)
    stop_reason: str | None = None
    usage: Usage = Usage()
    error: ErrorInfo | None = None
    http_attempts: int = 1
    duration_s: float = 0.0
    worker: str = ""


class ToolCall(Message):
    """tool.<name>.calls (key: tool_use_id, or conversation_id for ordered tools)."""

    conversation_id: ConversationId
    tool_use_id: str
    tool: str
    input: dict[str, Any]
    deadline_at: float
    dispatched_at: float


class ToolResult(Message):
    """agent.steps (key: conversation_id): what one tool call returned."""

    kind: Literal["tool_result"] = "tool_result"
    conversation_id: ConversationId
    tool_use_id: str
    tool: str
    content: str
    is_error: bool = False
    fatal: bool = False
    error_type: str | None = None
    attempts: int = 1
    duration_s: float = 0.0
    dispatched_at: float = 0.0
    worker: str = ""


class CallJournalEntry(Message):
    """tool.<name>.journal (key: tool_use_id, compacted): how far a call of a tool that is
    not idempotent got, shared by that tool's workers so no call id runs twice."""

    tool_use_id: str
    state: Literal["started", "finished"]
    worker: str
    at: float
    deadline_at: float
    result: ToolResult | None = None


class Tick(Message):
    """agent.steps (key: conversation_id): the timer saw a deadline pass."""

    kind: Literal["tick"] = "tick"
    conversation_id: ConversationId
    at: float


class DeliveryFailure(Message):
    """agent.steps (key: conversation_id): a call the orchestrator emitted was refused by
    the broker with an error no retry cures (timeouts are left to the call's lease)."""

    kind: Literal["delivery_failure"] = "delivery_failure"
    conversation_id: ConversationId
    call_id: str
    topic: str
    error: str


Step = Annotated[ModelResult | ToolResult | Tick | DeliveryFailure, Field(discriminator="kind")]


class AgentResponse(Message):
    """agent.responses (or the request's reply_topic): how a conversation ended."""

    conversation_id: ConversationId
    status: Status
    stop_reason: str | None = None
    text: str = ""
    output: dict[str, Any] | None = None
    iterations: int = 0
    tool_calls: int = 0
    usage: Usage = Usage()
    cost_usd: float = 0.0
    error: str | None = None
    duration_s: float = 0.0
    transcript: list[dict[str, Any]] | None = None
    metadata: dict[str, str] = Field(default_factory=dict)


EventType = Literal[
    "duplicate_request",
    "model_call_started",
    "model_call_finished",
    "tool_finished",
    "tool_timed_out",
    "call_redriven",
    "conversation_finished",
]


class AgentEvent(Message):
    """agent.events (key: conversation_id): progress and audit, one per state transition."""

    conversation_id: ConversationId
    type: EventType
    at: float
    iteration: int = 0
    tool: str | None = None
    tool_use_id: str | None = None
    duration_s: float | None = None
    worker: str | None = None
    detail: str = ""


class DeadLetter(Message):
    """agent.dlq: an input the platform could not process, with the reason and the bytes."""

    source_topic: str
    partition: int
    offset: int
    key: str | None
    reason: str
    payload: str
    at: float

    @classmethod
    def of(cls, record: Any, reason: str, at: float) -> DeadLetter:
        """From any consumed record with topic/partition/offset/key/value (bytes)."""
        raw: bytes = record.value or b""
        return cls(
            source_topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            key=record.key.decode(errors="replace") if record.key else None,
            reason=reason,
            payload=raw[:MAX_DEAD_LETTER_PAYLOAD].decode(errors="replace"),
            at=at,
        )
