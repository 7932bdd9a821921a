"""Fixtures that start local model servers on free ports and stop them afterwards."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from local_model.server import start_server
from local_model.settings import ModelServerConfig
from tests.unit.local_model.harness import RunningServer, StartServer


@pytest.fixture
async def start() -> AsyncIterator[StartServer]:
    """Start servers with the given config fields; all are stopped after the test."""
    started: list[RunningServer] = []

    async def _start(**config: Any) -> RunningServer:
        runner, port = await start_server("127.0.0.1", 0, ModelServerConfig(**config))
        started.append(RunningServer(runner, port))
        return started[-1]

    yield _start
    for running in reversed(started):
        await running.stop()


@pytest.fixture
async def server(start: StartServer) -> RunningServer:
    """A server with the default config."""
    return await start()
