"""Record mode: forward requests to a real Messages API and save answers as scenarios."""

from __future__ import annotations

import asyncio
import json
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from local_model.request import assistant_turns, recorded_name, scenario_token

FORWARDED_REQUEST_HEADERS = (
    "x-api-key",
    "authorization",
    "anthropic-version",
    "anthropic-beta",
    "content-type",
)
RETURNED_RESPONSE_HEADERS = ("content-type", "request-id", "retry-after", "retry-after-ms")


@dataclass(frozen=True)
class Forwarded:
    """The upstream's answer, passed back to the client unchanged."""

    status: int
    body: bytes
    headers: dict[str, str]


class Recorder:
    """Proxies to `upstream_url` and appends successful exchanges to `record_dir`."""

    def __init__(self, upstream_url: str, record_dir: Path | None) -> None:
        self.url = upstream_url.rstrip("/") + "/v1/messages"
        self.record_dir = record_dir
        self._session: aiohttp.ClientSession | None = None
        self._lock = asyncio.Lock()

    async def close(self) -> None:
        """Release the upstream connection pool."""
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def forward(self, headers: Mapping[str, str], raw: bytes) -> Forwarded:
        """Send the request body and auth/version headers upstream; return its answer."""
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=600))
        outgoing = {name: headers[name] for name in FORWARDED_REQUEST_HEADERS if name in headers}
        async with self._session.post(self.url, data=raw, headers=outgoing) as response:
            body = await response.read()
            returned = {
                name: value
                for name, value in response.headers.items()
                if name.lower() in RETURNED_RESPONSE_HEADERS
                or name.lower().startswith(("anthropic-", "x-should-retry"))
            }
            return Forwarded(response.status, body, returned)

    async def record(self, request: dict[str, Any], answer: bytes) -> Path | None:
        """Append a successful answer as the next turn of the conversation's scenario file."""
        if self.record_dir is None:
            return None
        try:
            message = json.loads(answer)
        except ValueError:
            return None
        if not isinstance(message, dict) or message.get("type") != "message":
            return None
        async with self._lock:
            return await asyncio.to_thread(append_turn, self.record_dir, request, message)


def recorded_turn(message: dict[str, Any]) -> dict[str, Any]:
    """The scenario turn that replays `message` (numeric usage fields only)."""
    usage = message.get("usage") or {}
    return {
        "content": message.get("content") or [],
        "stop_reason": message.get("stop_reason") or "end_turn",
        "stop_sequence": message.get("stop_sequence"),
        "usage": {
            key: value
            for key, value in usage.items()
            if isinstance(value, int) and not isinstance(value, bool)
        },
    }


def append_turn(record_dir: Path, request: dict[str, Any], message: dict[str, Any]) -> Path:
    """Write `message` as turn N of the scenario, N = assistant turns already in `request`."""
    messages = request.get("messages") or []
    name = scenario_token(messages) or recorded_name(messages)
    path = record_dir / f"{name}.json"
    data: dict[str, Any] = {"name": name, "turns": []}
    if path.is_file():
        data = json.loads(path.read_text(encoding="utf-8"))
    index = assistant_turns(messages)
    turns: list[dict[str, Any]] = list(data.get("turns") or [])[:index]
    turns += [{"policy": True}] * (index - len(turns))
    turns.append(recorded_turn(message))
    data["turns"] = turns
    record_dir.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=record_dir, prefix=f".{name}.", suffix=".tmp")
    with os.fdopen(handle, "w", encoding="utf-8") as out:
        json.dump(data, out, indent=2, ensure_ascii=False)
        out.write("\n")
    os.replace(temporary, path)
    return path
