"""The baselines each phase is compared with, run in the same invocation, with their skips.

The baselines themselves live in `bench.baselines`; this module only calls them, turns a
baseline that cannot run (a module or a binary missing) into a recorded skip, and prints
one "skipped: <reason>" line for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import inspect
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from topics.messages import ToolSpec

CELERY_CONCURRENCY = 8
"""Celery worker processes: the same as a platform tool worker's default concurrency."""


class Skipped(Exception):
    """A baseline that could not run here; the message says why."""


def _module(name: str) -> Any:
    try:
        return importlib.import_module(f"bench.baselines.{name}")
    except ImportError as exc:
        raise Skipped(f"bench.baselines.{name} cannot be imported ({exc})") from exc


async def _call(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Call a baseline function whether it is a coroutine function or a plain one."""
    result = fn(*args, **kwargs)
    return await result if inspect.isawaitable(result) else result


async def raw_round_trips(bootstrap: str, n: int, prefix: str, log_dir: Path) -> list[float]:
    """Seconds per plain aiokafka request/reply on the same broker."""
    fn = _module("raw_kafka").raw_round_trips
    if "log_dir" in inspect.signature(fn).parameters:
        return list(await _call(fn, bootstrap, n, prefix, log_dir=log_dir))
    return list(await _call(fn, bootstrap, n, prefix))


async def raw_fanout(
    bootstrap: str, k: int, sleep_s: float, reps: int, prefix: str, log_dir: Path
) -> list[float]:
    """Seconds per fan-out turn of plain aiokafka hops through an echo that sleeps."""
    fn = _module("raw_kafka").raw_fanout
    return list(await _call(fn, bootstrap, k, sleep_s, reps, prefix, log_dir=log_dir))


async def relay_cpu(
    bootstrap: str, n: int, rate: float, in_flight: int, prefix: str, log_dir: Path
) -> dict[str, float]:
    """CPU per conversation of plain aiokafka carrying the orchestrator's records at `rate`
    conversations/s (`bench.baselines.kafka_relay`)."""
    fn = _module("kafka_relay").relay_cpu
    return dict(await _call(fn, bootstrap, n, rate, in_flight, prefix, log_dir))


async def in_process_fanout(kind: str, k: int, sleep_s: float, reps: int) -> list[float]:
    """`sequential` or `gather`: wall seconds per rep of k sleeps in one process."""
    module = _module("in_process")
    return list(await _call(getattr(module, f"{kind}_fanout"), k, sleep_s, reps))


async def model_call_cpu(
    n: int, prompt: str, tools: list[ToolSpec], log_dir: Path
) -> dict[str, float]:
    """CPU ms per model call made in-process: through the worker's SDK client, and as a
    plain HTTP POST of the same request (`bench.baselines.model_call`)."""
    fn = _module("model_call").cpu_per_call
    return dict(await _call(fn, n, prompt, tools, log_dir))


def celery_unavailable() -> str | None:
    """Why the Celery+Redis baseline cannot run here, or None when it can."""
    try:
        module = _module("celery_redis")
    except Skipped as exc:
        return str(exc)
    return module.unavailable()


async def with_celery(workdir: Path, use: Callable[[Any], Any]) -> Any:
    """Start Celery+Redis in `workdir`, run `use(session)` (sync or async), stop it."""
    reason = celery_unavailable()
    if reason:
        raise Skipped(reason)
    session = _module("celery_redis").CeleryRedis(workdir, CELERY_CONCURRENCY)
    await asyncio.to_thread(workdir.mkdir, parents=True, exist_ok=True)
    if hasattr(session, "__aenter__"):
        async with session as running:
            return await _call(use, running)

    def blocking() -> Any:  # a synchronous client: keep it off the event loop
        with session as running:
            return use(running)

    return await asyncio.to_thread(blocking)


class Outcomes:
    """Baseline figures and skips of one phase, filled as each baseline runs."""

    def __init__(self, phase: str) -> None:
        self.phase = phase
        self.figures: dict[str, Any] = {}
        self.skips: dict[str, str] = {}

    @contextlib.asynccontextmanager
    async def attempt(self, name: str):
        """Run one baseline; a Skipped or an error is recorded (and printed) as its skip."""
        try:
            yield
        except Skipped as exc:
            self.skip(name, str(exc))
        except Exception as exc:
            self.skip(name, f"failed: {type(exc).__name__}: {exc}")

    def skip(self, name: str, reason: str) -> None:
        self.skips[name] = reason
        print(f"{self.phase}: {name} baseline skipped: {reason}", flush=True)
