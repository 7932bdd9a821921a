"""A back-off between failed metadata updates of every aiokafka client (aiokafka 0.14.0).

While the broker is unreachable, aiokafka retries metadata without pausing: a failed
update resolves `force_metadata_update()` at once (the connection is refused at once),
and the producer's sender, which waits on it "for the backoff time", asks again in the
same loop iteration. Under load a broker outage had the orchestrator and the model
worker each spinning a full core and writing 2,600-5,100 log lines per second ("Unable
connect to node", "Unable to update metadata"), and aio-libs/aiokafka#1155 reports the
same loop. Kafka's own clients back off exponentially from `retry.backoff.ms` to
`retry.backoff.max.ms` (1 s by default); `install()` makes aiokafka's metadata
synchroniser do that: after a failed update it waits before it reports the failure, so
whoever waits on the update waits too. A success resets the back-off.
"""

from __future__ import annotations

import asyncio
import functools
from typing import Any

from aiokafka.client import AIOKafkaClient

MAX_BACKOFF_S = 1.0
"""Kafka's `retry.backoff.max.ms` default: the longest pause between failed updates."""
_FAILURES = "_agentstream_metadata_failures"


def delay_s(failures: int, base_s: float) -> float:
    """The pause after the `failures`-th failed update in a row: doubling from the
    client's `retry_backoff_ms`, at most MAX_BACKOFF_S."""
    return min(MAX_BACKOFF_S, base_s * 2 ** max(0, failures - 1))


def install() -> None:
    """Wrap `AIOKafkaClient._metadata_update` once per process (idempotent)."""
    original = AIOKafkaClient._metadata_update
    if getattr(original, "backs_off", False):
        return

    @functools.wraps(original)
    async def _metadata_update(self: AIOKafkaClient, *args: Any, **kwargs: Any) -> bool:
        updated = await original(self, *args, **kwargs)
        if updated:
            setattr(self, _FAILURES, 0)
        else:
            failures = getattr(self, _FAILURES, 0) + 1
            setattr(self, _FAILURES, failures)
            await asyncio.sleep(delay_s(failures, self._retry_backoff))
        return updated

    _metadata_update.backs_off = True  # type: ignore[attr-defined]
    AIOKafkaClient._metadata_update = _metadata_update  # type: ignore[method-assign]
