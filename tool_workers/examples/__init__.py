"""Offline example tools that ship with the platform (imported to register them)."""

from tool_workers.examples import calculator, clock, docs_search, sleep

__all__ = ["calculator", "clock", "docs_search", "sleep"]
