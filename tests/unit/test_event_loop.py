"""The event loop setting: uvloop by default, asyncio on request, applied at process start."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvloop
from pydantic import ValidationError

from config import event_loop
from config.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def policy() -> Iterator[None]:
    """Put back the policy the test runner had."""
    before = asyncio.get_event_loop_policy()
    yield
    asyncio.set_event_loop_policy(before)


def loop_made_after(choice: event_loop.EventLoop) -> asyncio.AbstractEventLoop:
    event_loop.use(choice)
    loop = asyncio.new_event_loop()
    loop.close()
    return loop


def test_uvloop_is_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AGENTSTREAM_EVENT_LOOP", raising=False)
    assert Settings().event_loop == "uvloop"


def test_the_environment_picks_the_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGENTSTREAM_EVENT_LOOP", "asyncio")
    assert Settings().event_loop == "asyncio"


def test_an_unknown_loop_is_refused() -> None:
    with pytest.raises(ValidationError, match="event_loop"):
        Settings(event_loop="tokio")


def test_use_makes_later_loops_of_that_kind(policy: None) -> None:
    assert isinstance(loop_made_after("uvloop"), uvloop.Loop)
    stdlib = loop_made_after("asyncio")
    assert not isinstance(stdlib, uvloop.Loop)
    assert isinstance(stdlib, asyncio.BaseEventLoop)


@pytest.mark.parametrize(
    ("choice", "module"),
    [("uvloop", "uvloop"), (None, "uvloop"), ("asyncio", "asyncio.unix_events")],
)
def test_a_worker_process_runs_on_the_chosen_loop(choice: str | None, module: str) -> None:
    """What `boot` (every worker's start) leaves for the `asyncio.run` that follows it."""
    env = {k: v for k, v in os.environ.items() if k != "AGENTSTREAM_EVENT_LOOP"}
    if choice is not None:
        env["AGENTSTREAM_EVENT_LOOP"] = choice
    code = (
        "import asyncio\n"
        "from monitoring.boot import boot\n"
        "boot(None)\n"
        "async def kind():\n"
        "    return type(asyncio.get_running_loop()).__module__\n"
        "print(asyncio.run(kind()))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == module
