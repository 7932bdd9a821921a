"""The in-process half of the hop tracer: wall-clock marks at each step of a record's way.

Installed in every platform process by `bench/hoptrace/site/sitecustomize.py` when
AGENTSTREAM_HOPTRACE_DIR is set. Each process keeps its marks in memory and writes them
to `<dir>/trace-<pid>.txt` every second and at exit, one `<ns> <mark> <detail>` per line
under a `# <command line>` header. Marks:

- `request <API>` a produce, fetch or offset-commit request written to its socket, and
  `response <API>` its response read (every process: aiokafka's connection);
- `send <topic>` a record handed to aiokafka's producer;
- `apply <Event> <conversation> [<tool_use_id>]` the orchestrator starting to apply an
  event (the `Context.now` of that step), `yield <topic> <partition> <offset>` faust's
  consumer handing a record on;
- `process` a worker starting to run a call.

Modules are patched as they are imported (an import hook), so a process pays only for
what it loads. The marks are cheap (a time call and a list append), yet not free: traced
hops ran 2-8% slower than untraced ones, so compare traced runs with traced runs.
"""

from __future__ import annotations

import atexit
import importlib.abc
import importlib.machinery
import os
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

ENV = "AGENTSTREAM_HOPTRACE_DIR"
TRACED_REQUESTS = ("Produce", "Fetch", "OffsetCommit")
_marks: list[str] = []


def mark(kind: str, detail: str = "") -> None:
    _marks.append(f"{time.time_ns()} {kind} {detail}\n")


def _flush(out: Path) -> None:
    taken = _marks[:]
    del _marks[: len(taken)]
    if taken:
        with (out / f"trace-{os.getpid()}.txt").open("a") as f:
            f.write(f"# {' '.join(sys.argv)}\n")
            f.writelines(taken)


def _api(request: Any) -> str:
    """`ProduceRequest_v7` -> `Produce`."""
    return type(request).__name__.split("_")[0].removesuffix("Request")


def _short(topic: str) -> str:
    """The last two parts of a topic name (`tool.noop.calls` -> `noop.calls`)."""
    return ".".join(topic.split(".")[-2:])


def _patch_aiokafka_conn(module: ModuleType) -> None:
    conn = module.AIOKafkaConnection
    send, handle_frame = conn.send, conn._handle_frame

    def traced_send(self: Any, request: Any, expect_response: bool = True) -> Any:
        if (api := _api(request)) in TRACED_REQUESTS:
            mark("request", api)
        return send(self, request, expect_response)

    def traced_handle_frame(self: Any, resp: Any) -> Any:
        if self._requests and (api := _api(self._requests[0][1])) in TRACED_REQUESTS:
            mark("response", api)
        return handle_frame(self, resp)

    conn.send, conn._handle_frame = traced_send, traced_handle_frame


def _patch_aiokafka_producer(module: ModuleType) -> None:
    producer = module.AIOKafkaProducer
    send = producer.send

    async def traced_send(self: Any, topic: str, *args: Any, **kwargs: Any) -> Any:
        mark("send", _short(topic))
        return await send(self, topic, *args, **kwargs)

    producer.send = traced_send


def _patch_orchestrator(module: ModuleType) -> None:
    orchestrator = module.Orchestrator
    apply = orchestrator._apply

    async def traced_apply(self: Any, conversation_id: str, event: Any, message: Any) -> Any:
        call = getattr(event, "tool_use_id", "")
        mark("apply", f"{type(event).__name__} {conversation_id} {call}".rstrip())
        return await apply(self, conversation_id, event, message)

    orchestrator._apply = traced_apply


def _patch_faust_fixes(module: ModuleType) -> None:
    consumer = module.Consumer
    getmany = consumer.getmany

    async def traced_getmany(self: Any, timeout: float) -> Any:  # noqa: ASYNC109
        async for tp, message in getmany(self, timeout):
            mark("yield", f"{_short(tp.topic)} {tp.partition} {message.offset}")
            yield tp, message

    consumer.getmany = traced_getmany


def _patch_runtime(module: ModuleType) -> None:
    calls = module.CallConsumer
    process = calls._process

    async def traced_process(self: Any, tp: Any, record: Any) -> None:
        mark("process", _short(tp.topic))
        await process(self, tp, record)

    calls._process = traced_process


PATCHES: dict[str, Callable[[ModuleType], None]] = {
    "aiokafka.conn": _patch_aiokafka_conn,
    "aiokafka.producer.producer": _patch_aiokafka_producer,
    "agents.orchestrator": _patch_orchestrator,
    "agents.faust_fixes": _patch_faust_fixes,
    "tool_workers.runtime": _patch_runtime,
}


class _PatchOnImport(importlib.abc.MetaPathFinder):
    """Find modules as usual; run the module's patch right after it executes."""

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> Any:
        patch = PATCHES.get(name)
        if patch is None:
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is None or spec.loader is None:
            return None
        loader, exec_module = spec.loader, spec.loader.exec_module

        def exec_and_patch(module: ModuleType) -> None:
            exec_module(module)
            patch(module)

        loader.exec_module = exec_and_patch  # type: ignore[method-assign]
        return spec


def install(out: Path) -> None:
    """Patch what this process imports from now on and write its marks under `out`."""
    out.mkdir(parents=True, exist_ok=True)
    sys.meta_path.insert(0, _PatchOnImport())
    atexit.register(_flush, out)

    def flush_every_second() -> None:
        while True:
            time.sleep(1.0)
            _flush(out)

    threading.Thread(target=flush_every_second, name="hoptrace", daemon=True).start()


def install_from_env() -> None:
    if os.environ.get(ENV):
        install(Path(os.environ[ENV]))
