"""The aiohttp app that answers `POST /v1/messages` like the Anthropic Messages API."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web

from local_model import wire
from local_model.config import ModelServerConfig
from local_model.errors import ApiError, error_body, error_headers, invalid_request
from local_model.faults import FaultInjector
from local_model.recorder import Recorder
from local_model.scenarios import ScenarioLibrary
from local_model.scripting import Reply, Scripts
from local_model.shaping import shape_text
from local_model.streaming import message_events
from local_model.usage import PromptCache, canonical, input_tokens
from local_model.validation import validate_request

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 64 * 1024 * 1024


@dataclass
class ServerStats:
    """Counters tests and benchmarks read to see what the server was asked."""

    requests: int = 0
    """HTTP attempts at `POST /v1/messages`, SDK retries included."""
    faults: int = 0
    """Attempts answered with an injected or scripted error status."""
    served: int = 0
    """Attempts answered with a message."""


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
    message = build_message(state, body, reply)
    state.stats.served += 1
    if body.get("stream"):
        return await _stream(request, message)
    return web.json_response(message, headers={"request-id": wire.request_id()})


async def handle_count_tokens(request: web.Request) -> web.Response:
    """`POST /v1/messages/count_tokens`: the prompt's size by the same measure as usage."""
    body = _parse_json(await request.read())
    validate_request({**body, "max_tokens": 1})
    return web.json_response({"input_tokens": input_tokens(body)})


def build_message(state: ServerState, body: dict[str, Any], reply: Reply) -> dict[str, Any]:
    """The full message: ids assigned, generation limits applied, usage computed."""
    content = wire.with_tool_use_ids(reply.content)
    stop_reason, stop_sequence = reply.stop_reason, reply.stop_sequence
    if reply.generated:
        shaped = shape_text(content, stop_reason, body["max_tokens"], body.get("stop_sequences"))
        content, stop_reason, stop_sequence = (
            shaped.content,
            shaped.stop_reason,
            shaped.stop_sequence,
        )
    usage = state.cache.usage(body, content)
    if reply.usage:
        usage.update(reply.usage)
    model = body.get("model") or state.config.model_name
    return wire.message(str(model), content, stop_reason, stop_sequence, usage)


def _fault_message(status: int) -> str:
    if status == 529:
        return "Overloaded"
    if status == 429:
        return "Rate limited (injected fault)"
    return f"Injected fault (HTTP {status})"


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
            "request-id": wire.request_id(),
        }
    )
    await response.prepare(request)
    for chunk in message_events(message):
        await response.write(chunk)
    await response.write_eof()
    return response


def _error_response(status: int, message: str) -> web.Response:
    headers = {**error_headers(status), "request-id": wire.request_id()}
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
