"""What users would otherwise run: Celery tasks over a real Redis broker and result backend.

`CeleryRedis` starts redis-server and one Celery worker process on loopback, both stopped by
PID on exit, and measures the same shapes as the platform bench: a sequential round trip,
a fan-out of k sleeps, and the throughput of no-op tasks with the worker's CPU cost.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
import time
from pathlib import Path
from types import ModuleType, TracebackType
from typing import Any

from agentstream.broker import free_port
from agentstream.processes import Spawned, is_alive, spawn, stop_pid

POOL = "threads"
"""Threads, not prefork: on 2 cores a no-op round trip skips prefork's pipe hop from the
consuming parent to a child process, so threads give Celery its lowest latency here (the
tasks are no-ops and sleeps, which the GIL does not serialise)."""
WARMUP = 200
"""Round trips run before timing, so connections and the worker's caches have settled (as
many as the platform's and plain Kafka's warm-up in the hop phase)."""
GET_TIMEOUT_S = 30.0
READY_TIMEOUT_S = 60.0
REDIS_READY_TIMEOUT_S = 15.0
STOP_GRACE_S = 15.0
REPO_ROOT = Path(__file__).resolve().parents[2]


def unavailable() -> str | None:
    """Why this baseline cannot run here (missing celery, redis client or server), or None."""
    missing = [m for m in ("celery", "redis") if importlib.util.find_spec(m) is None]
    if missing:
        return f"python packages missing: {', '.join(missing)} (scripts/install-bench-tools.sh)"
    if shutil.which("redis-server") is None:
        return "redis-server not found (scripts/install-bench-tools.sh installs it)"
    return None


def _celery_app() -> ModuleType:
    """The tasks module, imported only once `unavailable()` said celery is there."""
    from bench.baselines import celery_app

    return celery_app


def _process_tree(pid: int) -> list[int]:
    """`pid` and every live descendant (prefork children, if any)."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        for task in Path(f"/proc/{current}/task").glob("*/children"):
            try:
                todo.extend(int(c) for c in task.read_text().split())
            except OSError:
                continue
    return found


def cpu_seconds(pid: int) -> float:
    """User+system CPU seconds of `pid` and its descendants, from /proc/<pid>/stat."""
    ticks = 0
    for each in _process_tree(pid):
        try:
            fields = Path(f"/proc/{each}/stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        ticks += int(fields[11]) + int(fields[12])  # utime, stime (fields 14, 15)
    return ticks / os.sysconf("SC_CLK_TCK")


def _env(url: str) -> dict[str, str]:
    """This environment plus the worker's Redis URL, with the repository importable."""
    path = os.environ.get("PYTHONPATH", "")
    return {
        **os.environ,
        _celery_app().URL_ENV: url,
        "PYTHONPATH": os.pathsep.join(p for p in (str(REPO_ROOT), path) if p),
    }


class CeleryRedis:
    """redis-server and a Celery worker on loopback for the lifetime of a `with` block."""

    def __init__(self, workdir: Path, concurrency: int) -> None:
        self.workdir = workdir
        self.concurrency = concurrency
        self.port = 0
        self.redis: Spawned | None = None
        self.worker: Spawned | None = None
        self._app: Any = None

    def __enter__(self) -> CeleryRedis:
        reason = unavailable()
        if reason:
            raise RuntimeError(f"Celery+Redis baseline unavailable: {reason}")
        try:
            self._start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _start(self) -> None:
        data = self.workdir / "redis"
        data.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        url = f"redis://127.0.0.1:{self.port}/0"
        self.redis = spawn(
            [
                *("redis-server", "--bind", "127.0.0.1", "--port", str(self.port)),
                *("--save", "", "--appendonly", "no", "--dir", str(data)),
                *("--daemonize", "no", "--protected-mode", "yes"),
            ],
            self.workdir / "redis.log",
        )
        self._await_redis(url)
        self.worker = spawn(
            [
                *(sys.executable, "-m", "celery", "-A", "bench.baselines.celery_app", "worker"),
                *("--pool", POOL, "--concurrency", str(self.concurrency)),
                *("--without-gossip", "--without-mingle", "--without-heartbeat"),
                *("--prefetch-multiplier", "1", "--loglevel", "WARNING"),
                *("--hostname", f"bench-{self.port}@127.0.0.1"),
            ],
            self.workdir / "celery-worker.log",
            env=_env(url),
        )
        self._app = _celery_app().make_app(url)
        self._await_worker()

    def _await_redis(self, url: str) -> None:
        import redis

        assert self.redis is not None
        deadline = time.monotonic() + REDIS_READY_TIMEOUT_S
        client = redis.Redis.from_url(url, socket_timeout=1.0)
        try:
            while time.monotonic() < deadline:
                if not is_alive(self.redis.pid):
                    raise RuntimeError(f"redis-server exited; see {self.redis.log_path}")
                try:
                    if client.ping():
                        return
                except redis.ConnectionError:
                    time.sleep(0.05)
        finally:
            client.close()
        raise TimeoutError(f"redis-server not answering after {REDIS_READY_TIMEOUT_S:g}s")

    def _await_worker(self) -> None:
        from celery.exceptions import TimeoutError as CeleryTimeout

        assert self.worker is not None
        deadline = time.monotonic() + READY_TIMEOUT_S
        ping = self._app.tasks[_celery_app().PING].delay()
        while time.monotonic() < deadline:
            if not is_alive(self.worker.pid):
                raise RuntimeError(f"Celery worker exited; see {self.worker.log_path}")
            try:
                ping.get(timeout=1.0)
                return
            except CeleryTimeout:
                continue
        raise TimeoutError(f"Celery worker did not answer a ping in {READY_TIMEOUT_S:g}s")

    def close(self) -> None:
        """Stop the worker, then Redis, each by its PID."""
        if self._app is not None:
            self._app.close()
            self._app = None
        if self.worker is not None:
            stop_pid(self.worker.pid, "celery", STOP_GRACE_S)
            self.worker = None
        if self.redis is not None:
            stop_pid(self.redis.pid, "redis-server", STOP_GRACE_S)
            self.redis = None

    def _round_trip(self) -> float:
        began = time.perf_counter()
        self._app.tasks[_celery_app().NOOP].delay().get(timeout=GET_TIMEOUT_S)
        return time.perf_counter() - began

    def round_trips(self, n: int) -> list[float]:
        """`n` sequential no-op task round trips (submit, run, result back), seconds each."""
        for _ in range(WARMUP):
            self._round_trip()
        return [self._round_trip() for _ in range(n)]

    def fanout(self, k: int, sleep_s: float, reps: int) -> list[float]:
        """Wall seconds per rep of a group of `k` sleeps of `sleep_s`, all results gathered."""
        from celery import group

        if k > self.concurrency:
            raise ValueError(f"fan-out of {k} needs concurrency >= {k}, have {self.concurrency}")
        sleep = self._app.tasks[_celery_app().SLEEP]
        timeout = GET_TIMEOUT_S + sleep_s * k
        walls = []
        for _ in range(reps):
            began = time.perf_counter()
            group(sleep.s(sleep_s) for _ in range(k)).apply_async().get(timeout=timeout)
            walls.append(time.perf_counter() - began)
        return walls

    def throughput(self, n: int) -> dict[str, float]:
        """`n` no-op tasks submitted at once, all results gathered: rate, wall and CPU."""
        from celery.result import ResultSet

        assert self.worker is not None and self.redis is not None
        noop = self._app.tasks[_celery_app().NOOP]
        worker_cpu, redis_cpu = cpu_seconds(self.worker.pid), cpu_seconds(self.redis.pid)
        began = time.perf_counter()
        results = ResultSet([noop.delay() for _ in range(n)])
        results.get(timeout=GET_TIMEOUT_S + n / 50)
        wall = time.perf_counter() - began
        return {
            "tasks_per_s": n / wall,
            "wall_s": wall,
            "worker_cpu_s": cpu_seconds(self.worker.pid) - worker_cpu,
            "redis_cpu_s": cpu_seconds(self.redis.pid) - redis_cpu,
        }
