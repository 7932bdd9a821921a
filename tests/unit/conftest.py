"""Fixtures shared by unit tests of more than one package."""

from __future__ import annotations

import asyncio

import pytest


@pytest.fixture
def timers(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The bounds armed with `asyncio.timeout` from now on, in order."""
    armed: list[float] = []
    real = asyncio.timeout

    def counting(delay: float | None) -> asyncio.Timeout:
        armed.append(delay)  # type: ignore[arg-type]
        return real(delay)

    monkeypatch.setattr(asyncio, "timeout", counting)
    return armed
