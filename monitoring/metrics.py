"""Every Prometheus metric of the platform, and the functions that record them.

Names follow `agentstream_<noun>_<unit>`, in base units (seconds, USD). Label values are
bounded: tool names, model names, statuses, stop reasons, outcomes; never ids.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterable
from typing import TypeVar, assert_never

from prometheus_client import Counter, Gauge, Histogram, start_http_server
from prometheus_client.metrics import MetricWrapperBase

from monitoring.observations import (
    CallRedriven,
    CallsInTurn,
    ConversationFinished,
    DuplicateRequest,
    IterationsUsed,
    ModelRecovery,
    ModelResultDropped,
    Observation,
    Spend,
    TokensUsed,
    ToolCallOutcome,
    ToolRoundTrip,
)
from topics.messages import ModelResult, ToolResult

log = logging.getLogger(__name__)
M = TypeVar("M", bound=MetricWrapperBase)

LATENCY_BUCKETS_S = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
ITERATION_BUCKETS = (1, 2, 3, 4, 5, 6, 8, 10, 15, 20, 25, 50)
CALLS_PER_TURN_BUCKETS = (1, 2, 3, 4, 5, 6, 8, 12, 16, 32)

# --- conversations (orchestrator) ---
CONVERSATIONS = Counter(
    "agentstream_conversations_total",
    "Finished conversations by final status and stop reason.",
    ["status", "stop_reason"],
)
ITERATIONS = Histogram(
    "agentstream_conversation_iterations",
    "Model calls per finished conversation.",
    buckets=ITERATION_BUCKETS,
)
IN_FLIGHT = Gauge(
    "agentstream_conversations_in_flight", "Conversations running on this orchestrator instance."
)
DUPLICATE_REQUESTS = Counter(
    "agentstream_duplicate_requests_total", "Requests for a conversation id that already exists."
)
DEAD_LETTERS = Counter(
    "agentstream_dead_letters_total",
    "Inputs sent to the dead-letter topic, by source topic role.",
    ["source"],
)
CALLS_REDRIVEN = Counter(
    "agentstream_calls_redriven_total",
    "Calls published again under the same id because their lease ran out (kind: model, tool).",
    ["kind", "tool"],
)
ANSWERS_NOT_REPEATED = Counter(
    "agentstream_answers_not_repeated_total",
    "Final answers not sent again because the partition's previous owner had sent them "
    "before a crash kept it from storing the conversation's end.",
)
CALLS_DEDUPLICATED = Counter(
    "agentstream_calls_deduplicated_total",
    "Calls a worker received again and did not run again, by what it did instead "
    "(resent: the result it already had; running: the first delivery still runs; "
    "not_rerun: started before and the tool is not idempotent).",
    ["tool", "action"],
)
REKEYED = Counter(
    "agentstream_requests_rekeyed_total",
    "Requests re-published under their conversation id (unkeyed or misplaced).",
)
STATE_WRITES = Counter(
    "agentstream_state_writes_total",
    "Conversation states written to the table's changelog (the newest per conversation "
    "at each commit, not one per event).",
)
SEND_FAILURES = Counter(
    "agentstream_send_failures_total",
    "Messages the orchestrator could not deliver (call, reply, other).",
    ["kind"],
)
EVENT_FAILURES = Counter(
    "agentstream_event_failures_total",
    "Events whose application raised; dead-lettered, their conversation failed.",
    ["kind"],
)
OVERSIZED = Counter(
    "agentstream_oversized_total",
    "Requests refused or conversations failed because a message would exceed the limit.",
    ["what"],
)
REGISTRY_REJECTED = Counter(
    "agentstream_registry_entries_rejected_total",
    "Tool registry entries ignored as invalid, by reason.",
    ["reason"],
)
TOOL_REGISTERED = Gauge(
    "agentstream_tool_registered",
    "1 for each tool this orchestrator offers (its registry entry was read and is valid).",
    ["tool"],
)
MODEL_RESULTS_DROPPED = Counter(
    "agentstream_model_results_dropped_total",
    "Model results not applied (late or duplicate).",
    ["reason"],
)

# --- tools (orchestrator view) ---
TOOL_CALLS = Counter(
    "agentstream_tool_calls_total",
    "Tool calls by tool and outcome (ok, error, timeout, late, duplicate, "
    "fatal, refused_cap, refused_allowlist, refused_schema, unknown).",
    ["tool", "outcome"],
)
TOOL_ROUND_TRIP = Histogram(
    "agentstream_tool_round_trip_seconds",
    "Tool call round trip, per tool: dispatched by the orchestrator to its result applied.",
    ["tool"],
    buckets=LATENCY_BUCKETS_S,
)
CALLS_PER_TURN = Histogram(
    "agentstream_tool_calls_per_turn",
    "tool_use blocks per model turn.",
    buckets=CALLS_PER_TURN_BUCKETS,
)
MODEL_RECOVERIES = Counter(
    "agentstream_model_recoveries_total",
    "Model-level retries: a tool called again right after an is_error.",
    ["tool"],
)

# --- tools (worker view) ---
TOOL_EXECUTIONS = Counter(
    "agentstream_tool_executions_total",
    "Calls executed by tool workers, by outcome (ok, error, fatal, expired).",
    ["tool", "outcome"],
)
TOOL_EXECUTION_SECONDS = Histogram(
    "agentstream_tool_execution_seconds",
    "Time a worker spent on one call, retries included.",
    ["tool"],
    buckets=LATENCY_BUCKETS_S,
)
TOOL_THREADS_OVERRUNNING = Gauge(
    "agentstream_tool_threads_overrunning",
    "Threads of sync tools still running after their call was answered as timed out.",
    ["tool"],
)
TOOL_RETRIES = Counter(
    "agentstream_tool_retries_total",
    "Tool-side retries (attempts beyond the first) per tool.",
    ["tool"],
)

# --- model calls (model worker) ---
MODEL_CALLS = Counter(
    "agentstream_model_calls_total",
    "Messages API calls by model and outcome (ok or the error type).",
    ["model", "outcome"],
)
MODEL_CALL_SECONDS = Histogram(
    "agentstream_model_call_seconds",
    "Duration of one model call, SDK retries included.",
    ["model"],
    buckets=LATENCY_BUCKETS_S,
)
SDK_RETRIES = Counter(
    "agentstream_model_sdk_retries_total",
    "Transport retries made by the anthropic SDK (HTTP attempts - 1).",
    ["model"],
)
MODEL_WORKER_RETRIES = Counter(
    "agentstream_model_overload_retries_total",
    "Bounded re-tries by the model worker after the SDK gave up.",
    ["model"],
)

# --- tokens and cost (orchestrator, from applied model results) ---
TOKENS = Counter(
    "agentstream_tokens_total",
    "Tokens by model and kind (input, output, cache_write, cache_read).",
    ["model", "kind"],
)
COST = Counter("agentstream_cost_usd_total", "Spend in USD by model.", ["model"])

# --- Kafka (lag exporter) ---
CONSUMER_LAG = Gauge(
    "agentstream_consumer_lag_messages",
    "Messages not yet consumed by a group, per topic.",
    ["topic", "group"],
)
TOPIC_MESSAGES = Gauge(
    "agentstream_topic_messages",
    "End offset summed over partitions (messages ever written).",
    ["topic"],
)


def serve(port: int | None) -> int | None:
    """Expose /metrics on `port` (0 = any free port); returns the bound port."""
    if port is None:
        return None
    server, _thread = start_http_server(port, addr="0.0.0.0")
    bound = int(server.server_port)
    log.info("Serving Prometheus metrics on port %d.", bound)
    return bound


CHILDREN_KEPT = 4096
"""Labelled children kept at hand by `_child`: label values are bounded, so all of them."""


@functools.lru_cache(maxsize=CHILDREN_KEPT)
def _child(metric: M, *values: str) -> M:
    """`metric.labels(*values)`, looked up once: prometheus-client checks the values and
    takes a lock on every `labels` call (2.8 us on 2 cores, against 0.4 us for a hit
    here), and the orchestrator records about 20 labelled values per conversation."""
    return metric.labels(*values)


def record_tool_execution(result: ToolResult) -> None:
    outcome = "fatal" if result.fatal else "error" if result.is_error else "ok"
    _child(TOOL_EXECUTIONS, result.tool, outcome).inc()
    _child(TOOL_EXECUTION_SECONDS, result.tool).observe(result.duration_s)
    if result.attempts > 1:
        _child(TOOL_RETRIES, result.tool).inc(result.attempts - 1)


def record_tool_skipped(tool: str) -> None:
    _child(TOOL_EXECUTIONS, tool, "expired").inc()


def record_model_call(result: ModelResult, model: str, overload_retries: int) -> None:
    outcome = result.error.type if result.error else "ok"
    _child(MODEL_CALLS, model, outcome).inc()
    _child(MODEL_CALL_SECONDS, model).observe(result.duration_s)
    if result.http_attempts > 1:
        _child(SDK_RETRIES, model).inc(result.http_attempts - 1 - overload_retries)
    if overload_retries:
        _child(MODEL_WORKER_RETRIES, model).inc(overload_retries)


def _record_one(obs: Observation) -> None:
    match obs:
        case ConversationFinished(status, stop_reason):
            _child(CONVERSATIONS, status, stop_reason).inc()
        case IterationsUsed(count):
            ITERATIONS.observe(count)
        case ToolCallOutcome(tool, outcome):
            _child(TOOL_CALLS, tool, outcome).inc()
        case ToolRoundTrip(tool, seconds):
            _child(TOOL_ROUND_TRIP, tool).observe(seconds)
        case CallsInTurn(count):
            CALLS_PER_TURN.observe(count)
        case ModelRecovery(tool):
            _child(MODEL_RECOVERIES, tool).inc()
        case TokensUsed(model, kind, count):
            _child(TOKENS, model, kind).inc(count)
        case Spend(model, usd):
            _child(COST, model).inc(usd)
        case DuplicateRequest():
            DUPLICATE_REQUESTS.inc()
        case CallRedriven(kind, tool):
            _child(CALLS_REDRIVEN, kind, tool).inc()
        case ModelResultDropped(reason):
            _child(MODEL_RESULTS_DROPPED, reason).inc()
        case _:
            assert_never(obs)


def record_observations(observations: Iterable[Observation]) -> None:
    """Apply the state machine's observations to the metrics."""
    for obs in observations:
        _record_one(obs)
