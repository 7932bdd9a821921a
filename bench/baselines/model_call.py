"""The floor under the model worker's CPU per call: the same call, in one process, no Kafka.

`cpu_per_call` starts the local Messages API server, builds the conversation's first
ModelCall with the orchestrator's own state machine (`agents.machine.step` on the
request), then makes `n` calls each way and times only this process's CPU
(`time.process_time`; the server's CPU is its own):

- `sdk`: `ModelCaller.call` with the worker's own client (`make_client`: the official
  SDK over its aiohttp transport): everything the worker does for a model call except
  consuming the ModelCall and producing the ModelResult.
- `http`: one plain aiohttp POST of the same request body, the response read and parsed:
  what the HTTP exchange costs without the SDK.

The model worker's figure in the throughput phase, divided by `sdk`, is what Kafka and
the worker loop add; `sdk` against `http` is what the SDK itself costs.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp

from agents.machine import Context, step
from agents.policy import Defaults
from agentstream.broker import free_port
from agentstream.processes import spawn, stop_pid
from agentstream.stack import CLI
from bench.chaos.clients import wait_for
from config.settings import Settings
from tool_workers.model_worker import ModelCaller, make_client
from topics.messages import AgentRequest, ModelCall, ToolSpec

WARMUP = 50
READY_TIMEOUT_S = 60.0
CALL_TIMEOUT_S = 30.0


def first_call_params(settings: Settings, prompt: str, tools: list[ToolSpec]) -> dict[str, Any]:
    """The first ModelCall's params, exactly as the orchestrator publishes them."""
    request = AgentRequest(conversation_id="bench", prompt=prompt, tools=[t.name for t in tools])
    ctx = Context(
        now=time.time(), defaults=Defaults.of(settings), registry={t.name: t for t in tools}
    )
    calls = [e.message for e in step(None, request, ctx).emits if isinstance(e.message, ModelCall)]
    if len(calls) != 1:
        raise RuntimeError(f"the request made {len(calls)} model calls, not 1")
    return calls[0].params


async def _cpu_ms(n: int, call: Callable[[], Awaitable[Any]]) -> float:
    """CPU milliseconds of this process per `call()`, after a warm-up."""
    for _ in range(WARMUP):
        await call()
    began = time.process_time()
    for _ in range(n):
        await call()
    return (time.process_time() - began) * 1000 / n


async def cpu_per_call(
    n: int, prompt: str, tools: list[ToolSpec], log_dir: Path
) -> dict[str, float]:
    """`{"sdk": ms, "http": ms}`: this process's CPU per model call, each way."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = spawn([*CLI, "model-server", "--port", str(port)], log_dir / "model-server.log")
    settings = Settings(model_backend="local", anthropic_base_url=url)
    params = first_call_params(settings, prompt, tools)
    body = json.dumps(params).encode()
    headers = {
        "x-api-key": "local",
        "anthropic-version": "2023-06-01",
        "content-type": "application/json",
    }
    client = make_client(settings)
    caller = ModelCaller(settings, client, "bench")
    timeout = aiohttp.ClientTimeout(total=CALL_TIMEOUT_S)
    try:
        async with aiohttp.ClientSession(timeout=timeout) as session:

            async def post() -> Any:
                async with session.post(f"{url}/v1/messages", data=body, headers=headers) as r:
                    r.raise_for_status()
                    return json.loads(await r.read())

            async def sdk() -> Any:
                call = ModelCall(
                    conversation_id="bench",
                    call_id=uuid.uuid4().hex,
                    params=params,
                    deadline_at=time.time() + CALL_TIMEOUT_S,
                )
                result, _ = await caller.call(call)
                if result.error is not None:
                    raise RuntimeError(f"the model call failed: {result.error.message}")
                return result

            async def answering() -> bool:
                await post()
                return True

            await wait_for(answering, READY_TIMEOUT_S, "the local model server", poll_s=0.1)
            return {
                "sdk": round(await _cpu_ms(n, sdk), 3),
                "http": round(await _cpu_ms(n, post), 3),
            }
    finally:
        await client.close()
        stop_pid(server.pid, "model-server")
