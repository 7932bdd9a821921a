"""How every long-running process of the platform runs Python: its event loop
(`config.event_loop`) and a garbage collector kept off its startup heap (`config.heap`)."""

from __future__ import annotations

from config import event_loop, heap
from config.settings import Settings


def prepare(settings: Settings) -> None:
    """Apply both. Call it once the process's modules are imported and before its first
    event loop is made."""
    event_loop.use(settings.event_loop)
    if settings.freeze_startup_heap:
        heap.freeze_startup_objects()
