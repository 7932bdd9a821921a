"""A minimal faust app with a changelog-backed table, run as a real worker process by tests.

The table lives in memory only (`memory://`), so after a restart every value it has
must have come back from the changelog topic.
"""

from __future__ import annotations

import os
from pathlib import Path

import faust

from agents.faust_app import faust_datadir

app = faust.App(
    os.environ["COUNTER_APP_ID"],
    broker=f"kafka://{os.environ['COUNTER_BOOTSTRAP']}",
    store="memory://",
    datadir=faust_datadir(os.environ["COUNTER_APP_ID"]),
    web_enabled=False,
    topic_partitions=4,
    table_standby_replicas=0,
    broker_session_timeout=10,
    broker_commit_interval=0.2,
    stream_wait_empty=True,
)
events = app.topic(
    os.environ["COUNTER_IN"], key_serializer="raw", value_serializer="raw", partitions=4
)
counts_out = app.topic(
    os.environ["COUNTER_OUT"], key_serializer="raw", value_serializer="raw", partitions=1
)
counts = app.Table("counts", default=int, partitions=4, key_type=bytes)


@app.agent(events)
async def count(stream: faust.StreamT) -> None:
    """Count events per key and publish each new count."""
    async for key, _value in stream.items():
        counts[key] += 1
        await counts_out.send(key=key, value=str(counts[key]).encode())


@app.task
async def mark_ready() -> None:
    """Tell the test once recovery is over and stream positions are settled (after seek)."""
    await app.tables.recovery.completed.wait()
    Path(os.environ["COUNTER_READY_FILE"]).write_text("ready")  # noqa: ASYNC240 - tiny, once
