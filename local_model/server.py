"""The aiohttp app that answers `POST /v1/messages` like the Anthropic Messages API:
routes, server-sent events for `stream: true`, Anthropic-shaped error bodies, and seeded
fault injection so flaky-model runs repeat exactly."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import aiohttp
from aiohttp import web

from local_model.recorder import Recorder
from local_model.replies import ScenarioLibrary, Scripts, build_message, fresh_id
from local_model.request import ApiError, invalid_request, validate_request
from local_model.usage import PromptCache, canonical, input_tokens

if TYPE_CHECKING:
    from local_model.settings import ModelServerConfig

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 64 * 1024 * 1024

ERROR_KINDS: dict[int, str] = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    529: "overloaded_error",
}

RETRY_AFTER_MS = "10"
"""Tiny `retry-after-ms` so the SDK's own retries of injected faults stay fast."""


@dataclass
class ServerStats:
    """Counters tests and benchmarks read to see what the server was asked."""

    requests: int = 0
    """HTTP attempts at `POST /v1/messages`, SDK retries included."""
    faults: int = 0
    """Attempts answered with an injected or scripted error status."""
    served: int = 0
    """Attempts answered with a message."""


class FaultInjector:
    """Decides, request by request, whether to answer with an injected error status."""

    def __init__(self, config: ModelServerConfig) -> None:
        self.rate = config.fault_rate
        self.statuses = list(config.fault_statuses)
        self.latency_s = config.latency_s
        self._random = random.Random(config.seed)

    def next_fault(self) -> int | None:
        """The status to fail the next request with, or None to serve it."""
        if self.rate <= 0:
            return None
        if self._random.random() >= self.rate:
            return None
        return self._random.choice(self.statuses)

    async def delay(self) -> None:
        """Wait the configured latency before responding."""
        if self.latency_s > 0:
            await asyncio.sleep(self.latency_s)


def _fault_message(status: int) -> str:
    if status == 529:
        return "Overloaded"
    if status == 429:
        return "Rate limited (injected fault)"
    return f"Injected fault (HTTP {status})"


@dataclass
class ServerState:
    """Everything one app instance remembers between requests."""

    config: ModelServerConfig
    faults: FaultInjector
    scripts: Scripts
    cache: PromptCache = field(default_factory=PromptCache)
    recorder: Recorder | None = None
    stats: ServerStats = field(default_factory=ServerStats)


STATE = web.AppKey("model_server_state", ServerState)


def create_app(config: ModelServerConfig) -> web.Application:
    """A fresh app with its own prompt cache, fault sequence and scripted-failure counters."""
    app = web.Application(middlewares=[_error_middleware], client_max_size=MAX_BODY_BYTES)
    recorder = Recorder(config.upstream_url, config.record_dir) if config.upstream_url else None
    app[STATE] = ServerState(
        config=config,
        faults=FaultInjector(config),
        scripts=Scripts(ScenarioLibrary(list(config.scenario_dirs))),
        recorder=recorder,
    )
    app.router.add_post("/v1/messages", handle_messages)
    app.router.add_post("/v1/messages/count_tokens", handle_count_tokens)
    app.router.add_get("/healthz", handle_health)
    app.on_cleanup.append(_close_recorder)
    return app


async def start_server(
    host: str, port: int, config: ModelServerConfig
) -> tuple[web.AppRunner, int]:
    """Start listening and return the runner (call `cleanup()` to stop) and the bound port."""
    runner = web.AppRunner(create_app(config), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    bound = int(runner.addresses[0][1])
    log.info("local model server listening on %s:%d", host, bound)
    return runner, bound


async def serve(
    host: str, port: int, config: ModelServerConfig, ready: asyncio.Event | None = None
) -> None:
    """Serve until cancelled; `ready` is set once the socket is listening."""
    runner, _ = await start_server(host, port, config)
    try:
        if ready is not None:
            ready.set()
        await asyncio.get_running_loop().create_future()
    finally:
        await runner.cleanup()


async def handle_health(_: web.Request) -> web.Response:
    """Liveness probe."""
    return web.Response(text="ok")


async def handle_messages(request: web.Request) -> web.StreamResponse:
    """Answer one Messages API call: faults, record mode, scripts or the policy."""
    state = request.app[STATE]
    state.stats.requests += 1
    await state.faults.delay()
    status = state.faults.next_fault()
    if status is not None:
        raise ApiError(status, _fault_message(status), injected=True)
    raw = await request.read()
    body = _parse_json(raw)
    if state.recorder is not None:
        return await _proxy(state.recorder, request, raw, body)
    validate_request(body)
    reply = state.scripts.reply(body, hashlib.sha256(canonical(body).encode()).hexdigest())
    if reply.delay_s > 0:
        await asyncio.sleep(reply.delay_s)
    message = build_message(body, reply, state.cache, state.config.model_name)
    state.stats.served += 1
    if body.get("stream"):
        return await _stream(request, message)
    return web.json_response(message, headers={"request-id": fresh_id("req")})


async def handle_count_tokens(request: web.Request) -> web.Response:
    """`POST /v1/messages/count_tokens`: the prompt's size by the same measure as usage."""
    body = _parse_json(await request.read())
    validate_request({**body, "max_tokens": 1})
    return web.json_response({"input_tokens": input_tokens(body)})


def _parse_json(raw: bytes) -> dict[str, Any]:
    try:
        body = json.loads(raw)
    except ValueError as exc:
        raise invalid_request(f"request body is not valid JSON: {exc}") from exc
    if not isinstance(body, dict):
        raise invalid_request("request body must be a JSON object")
    return body


async def _proxy(
    recorder: Recorder, request: web.Request, raw: bytes, body: dict[str, Any]
) -> web.Response:
    """Record mode: return upstream's answer unchanged, saving successful ones."""
    try:
        forwarded = await recorder.forward(request.headers, raw)
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise ApiError(502, f"upstream unreachable: {type(exc).__name__}") from exc
    if forwarded.status == 200:
        await recorder.record(body, forwarded.body)
    return web.Response(body=forwarded.body, status=forwarded.status, headers=forwarded.headers)


async def _stream(request: web.Request, message: dict[str, Any]) -> web.StreamResponse:
    response = web.StreamResponse(
        headers={
            "content-type": "text/event-stream",
            "cache-control": "no-cache",
            "request-id": fresh_id("req"),
        }
    )
    await response.prepare(request)
    for chunk in message_events(message):
        await response.write(chunk)
    await response.write_eof()
    return response


def _error_response(status: int, message: str) -> web.Response:
    headers = {**error_headers(status), "request-id": fresh_id("req")}
    return web.json_response(error_body(status, message), status=status, headers=headers)


@web.middleware
async def _error_middleware(request: web.Request, handler: Any) -> web.StreamResponse:
    """Every failure leaves as an Anthropic-shaped error body the SDK understands."""
    try:
        return await handler(request)
    except ApiError as exc:
        if exc.injected:
            request.app[STATE].stats.faults += 1
        return _error_response(exc.status, exc.message)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return _error_response(exc.status, exc.reason)
    except Exception:
        log.exception("local model server failed on %s %s", request.method, request.path)
        return _error_response(500, "internal error in the local model server")


async def _close_recorder(app: web.Application) -> None:
    recorder = app[STATE].recorder
    if recorder is not None:
        await recorder.close()


def error_kind(status: int) -> str:
    """The `error.type` the real API pairs with an HTTP status."""
    if status in ERROR_KINDS:
        return ERROR_KINDS[status]
    return "api_error" if status >= 500 else "invalid_request_error"


def error_body(status: int, message: str) -> dict[str, Any]:
    """The JSON body of an error response."""
    return {"type": "error", "error": {"type": error_kind(status), "message": message}}


def error_headers(status: int) -> dict[str, str]:
    """Headers that keep SDK retry backoff short for retryable statuses."""
    if status == 429 or status >= 500:
        return {"retry-after-ms": RETRY_AFTER_MS, "retry-after": "0"}
    return {}


def _event(kind: str, data: dict[str, Any]) -> bytes:
    return f"event: {kind}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n".encode()


def _block_events(index: int, block: dict[str, Any]) -> Iterator[bytes]:
    kind = block.get("type")
    if kind == "text":
        start: dict[str, Any] = {"type": "text", "text": ""}
        delta: dict[str, Any] | None = {"type": "text_delta", "text": block.get("text", "")}
    elif kind == "tool_use":
        start = {**block, "input": {}}
        delta = {"type": "input_json_delta", "partial_json": json.dumps(block.get("input", {}))}
    else:
        start, delta = block, None
    yield _event(
        "content_block_start",
        {"type": "content_block_start", "index": index, "content_block": start},
    )
    if delta is not None:
        yield _event(
            "content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta}
        )
    yield _event("content_block_stop", {"type": "content_block_stop", "index": index})


def message_events(message: dict[str, Any]) -> Iterator[bytes]:
    """The event stream that accumulates to exactly `message`."""
    usage = message["usage"]
    opening = {
        **message,
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": {**usage, "output_tokens": 1},
    }
    yield _event("message_start", {"type": "message_start", "message": opening})
    for index, block in enumerate(message["content"]):
        yield from _block_events(index, block)
    yield _event(
        "message_delta",
        {
            "type": "message_delta",
            "delta": {
                "stop_reason": message["stop_reason"],
                "stop_sequence": message["stop_sequence"],
            },
            "usage": {"output_tokens": usage["output_tokens"]},
        },
    )
    yield _event("message_stop", {"type": "message_stop"})
