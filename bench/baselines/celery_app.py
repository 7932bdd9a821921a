"""The Celery app of the Celery+Redis baseline: no-op, sleep and ping tasks, nothing else.

The worker loads the module-level `app` (`celery -A bench.baselines.celery_app worker`),
configured from BENCH_CELERY_REDIS_URL, which `CeleryRedis` sets; the caller builds its own
app with `make_app(url)` so two baselines never share a connection pool.
"""

from __future__ import annotations

import os
import time

from celery import Celery

URL_ENV = "BENCH_CELERY_REDIS_URL"
"""Redis URL used as both broker and result backend."""
NOOP = "bench.noop"
SLEEP = "bench.sleep"
PING = "bench.ping"


def make_app(url: str) -> Celery:
    """A Celery app on Redis `url`, tuned as a user would for low latency, with our tasks."""
    app = Celery("bench", broker=url, backend=url)
    app.conf.update(
        worker_prefetch_multiplier=1,
        task_acks_late=False,
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        result_expires=600,
        broker_connection_retry_on_startup=True,
        worker_hijack_root_logger=False,
        worker_redirect_stdouts=False,
    )

    @app.task(name=NOOP, shared=False)
    def noop() -> None:
        """Does nothing: what remains is Celery's own cost per task."""

    @app.task(name=SLEEP, shared=False)
    def sleep(seconds: float) -> float:
        """Stands in for an I/O-bound tool call of `seconds`."""
        time.sleep(seconds)
        return seconds

    @app.task(name=PING, shared=False)
    def ping() -> str:
        """Answers once the worker consumes: the readiness check."""
        return "pong"

    return app


app = make_app(os.environ.get(URL_ENV, "redis://127.0.0.1:6379/0"))
