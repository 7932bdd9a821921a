"""`agentstream model-worker`: executes ModelCalls with the anthropic SDK, like a tool.

Transport retries are the SDK's own (counted per call through an httpx event hook);
after the SDK gives up on an overload, the worker retries a bounded number of times;
any other error becomes a failed ModelResult that the orchestrator turns into `failed`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextvars
import json
import logging
import time
from typing import Any

import anthropic
from aiokafka.structs import ConsumerRecord
from aiolimiter import AsyncLimiter

from config.settings import Settings
from monitoring import metrics
from monitoring.boot import boot
from tool_workers.idempotency import RUNNING, RecentCalls
from tool_workers.retrying import once_then_retry
from tool_workers.runtime import (
    CallConsumer,
    Outgoing,
    decode_call,
    run_until_signalled,
    worker_id,
)
from topics.admin import ensure_topics
from topics.codec import encode
from topics.messages import ErrorInfo, ModelCall, ModelResult, Usage
from topics.names import Topics

log = logging.getLogger(__name__)

OVERLOAD_RETRY_ATTEMPTS = 2
"""Worker-level attempts on top of the SDK's retries, for overload/rate limits only."""
RETRYABLE = (anthropic.RateLimitError, anthropic.InternalServerError, anthropic.APIConnectionError)
_attempts: contextvars.ContextVar[list[int]] = contextvars.ContextVar("http_attempts")


async def _count_attempt(_request: Any) -> None:
    counter = _attempts.get(None)
    if counter is not None:
        counter[0] += 1


def make_client(settings: Settings) -> anthropic.AsyncAnthropic:
    """An AsyncAnthropic whose every HTTP attempt is counted for the current call."""
    key = settings.anthropic_api_key.get_secret_value() if settings.anthropic_api_key else "local"
    # The SDK's aiohttp transport: the same requests, retries and errors as its default
    # httpx one, at about two thirds of the CPU per call.
    http_client = anthropic.DefaultAioHttpClient(event_hooks={"request": [_count_attempt]})
    return anthropic.AsyncAnthropic(
        api_key=key,
        base_url=settings.effective_base_url,
        max_retries=settings.model_sdk_max_retries,
        timeout=settings.model_timeout_s,
        http_client=http_client,
        # The platform's telemetry is Prometheus; building a span per call cost ~5% of the
        # worker's CPU even with no tracer installed.
        open_telemetry=False,
    )


def _error(exc: Exception) -> ErrorInfo:
    message = getattr(exc, "message", None) or str(exc)
    return ErrorInfo(
        type=type(exc).__name__, message=message[:500], retryable=isinstance(exc, RETRYABLE)
    )


class ModelCaller:
    """Turns one ModelCall into one ModelResult."""

    def __init__(self, settings: Settings, client: anthropic.AsyncAnthropic, me: str) -> None:
        self._settings = settings
        self._client = client
        rate = settings.model_rate_limit
        self._limiter = AsyncLimiter(rate, 1.0) if rate else None
        self._me = me

    async def _create(self, params: dict[str, Any], deadline_at: float) -> dict[str, Any]:
        """The Messages API response as JSON: the raw response skips building SDK models
        that would only be dumped back to dicts for the ModelResult."""
        timeout_s = max(min(self._settings.model_timeout_s, deadline_at - time.time()), 0.1)
        if self._limiter is not None:
            await self._limiter.acquire()
        raw = await self._client.messages.with_raw_response.create(**params, timeout=timeout_s)
        return json.loads(raw.http_response.content)

    async def call(self, call: ModelCall) -> tuple[ModelResult, int]:
        """The result and how many worker-level (not SDK) retries it took."""
        started = time.time()
        counter = [0]
        _attempts.set(counter)
        model = str(call.params.get("model", self._settings.model))
        tries = 0
        base: dict[str, Any] = {
            "conversation_id": call.conversation_id,
            "call_id": call.call_id,
            "model": model,
            "worker": self._me,
        }

        async def attempt() -> dict[str, Any]:
            nonlocal tries
            tries += 1
            return await self._create(call.params, call.deadline_at)

        try:
            message = await once_then_retry(
                attempt, RETRYABLE, OVERLOAD_RETRY_ATTEMPTS, 0.2, 1.0, call.deadline_at
            )
        except anthropic.APIError as exc:
            log.warning("Model call %s failed: %s.", call.call_id, type(exc).__name__)
            return ModelResult(
                **base,
                error=_error(exc),
                http_attempts=counter[0],
                duration_s=time.time() - started,
            ), tries - 1
        usage = Usage.model_validate(message.get("usage") or {})
        content = [
            {key: value for key, value in block.items() if value is not None}
            for block in message.get("content") or []
        ]
        return ModelResult(
            **{**base, "model": message.get("model") or model},
            content=content,
            stop_reason=message.get("stop_reason"),
            usage=usage,
            http_attempts=counter[0],
            duration_s=time.time() - started,
        ), tries - 1


def make_handler(settings: Settings, caller: ModelCaller):
    """Answer each ModelCall; a call id delivered again (a re-drive) gets the same answer.

    Model calls have no side effects, so one that this process never saw (it was not
    answered before a crash) is simply made again; that costs tokens, not correctness.
    """
    steps = Topics(settings.topic_prefix).agent_steps.name
    recent = RecentCalls()

    async def handle(record: ConsumerRecord) -> list[Outgoing]:
        call = decode_call(record, ModelCall)
        seen = recent.seen(call.call_id)
        if seen is not None:
            action = "running" if seen is RUNNING else "resent"
            metrics.CALLS_DEDUPLICATED.labels("model", action).inc()
            return [] if seen is RUNNING else seen
        if time.time() >= call.deadline_at:
            return []  # the conversation already timed out; nobody waits for this answer
        recent.start(call.call_id)
        try:
            result, overload_retries = await caller.call(call)
        finally:
            recent.abandon(call.call_id)
        metrics.record_model_call(result, result.model, overload_retries)
        outgoing = [Outgoing(steps, result.conversation_id, encode(result))]
        recent.finish(call.call_id, outgoing)
        return outgoing

    return handle


async def serve(settings: Settings, concurrency: int) -> None:
    topics = Topics(settings.topic_prefix)
    await ensure_topics(
        settings.kafka,
        [topics.model_calls, topics.agent_steps, topics.dead_letters],
        **settings.replication,
    )
    me = worker_id()
    client = make_client(settings)
    caller = ModelCaller(settings, client, me)
    consumer = CallConsumer(
        bootstrap=settings.kafka,
        topic=topics.model_calls.name,
        group=topics.model_group,
        handler=make_handler(settings, caller),
        concurrency=concurrency,
        dead_letter_topic=topics.dead_letters.name,
    )
    where = "local model server" if settings.uses_local_model else "Anthropic API"
    try:
        await run_until_signalled(
            consumer,
            lambda: log.info(
                "Model worker %s calls the %s with concurrency %d.", me, where, concurrency
            ),
            settings.stop_grace_s,
        )
    finally:
        await client.close()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="agentstream model-worker")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--metrics-port", type=int, default=None)
    args = parser.parse_args(argv)
    settings = boot(args.metrics_port)
    asyncio.run(serve(settings, args.concurrency))
    return 0
