"""Seeded fault injection and added latency, so flaky-model runs repeat exactly."""

from __future__ import annotations

import asyncio
import random

from local_model.config import ModelServerConfig


class FaultInjector:
    """Decides, request by request, whether to answer with an injected error status."""

    def __init__(self, config: ModelServerConfig) -> None:
        self.rate = config.fault_rate
        self.statuses = list(config.fault_statuses)
        self.latency_s = config.latency_s
        self._random = random.Random(config.seed)
        self.injected = 0

    def next_fault(self) -> int | None:
        """The status to fail the next request with, or None to serve it."""
        if self.rate <= 0:
            return None
        if self._random.random() >= self.rate:
            return None
        self.injected += 1
        return self._random.choice(self.statuses)

    async def delay(self) -> None:
        """Wait the configured latency before responding."""
        if self.latency_s > 0:
            await asyncio.sleep(self.latency_s)
