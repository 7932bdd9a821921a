"""A started local model server and the SDK client that talks to it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import anthropic
from aiohttp import web

from local_model.server import STATE, ServerState


@dataclass
class RunningServer:
    """A started server: its URL, runner and live state."""

    runner: web.AppRunner
    port: int
    clients: list[anthropic.AsyncAnthropic] = field(default_factory=list)

    @property
    def base_url(self) -> str:
        """Where the SDK should send requests."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def state(self) -> ServerState:
        """The app's counters, cache and scripts."""
        return self.runner.app[STATE]

    def client(self, max_retries: int = 2, api_key: str = "test") -> anthropic.AsyncAnthropic:
        """A real SDK client aimed at this server, closed when the server stops."""
        client = anthropic.AsyncAnthropic(
            base_url=self.base_url, api_key=api_key, max_retries=max_retries
        )
        self.clients.append(client)
        return client

    async def stop(self) -> None:
        """Close the clients, then the server."""
        for client in self.clients:
            await client.close()
        await self.runner.cleanup()


StartServer = Callable[..., Awaitable[RunningServer]]
