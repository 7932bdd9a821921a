"""Percentiles, steady-state rates, and the CPU seconds a process used, from /proc."""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100), linear between closest ranks; NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def summary_ms(seconds: Sequence[float]) -> dict[str, float]:
    """p50/p90/p99/mean/max of durations given in seconds, in milliseconds, and the count."""
    if not seconds:
        return {"n": 0}
    ms = [s * 1000 for s in seconds]
    return {
        "n": len(ms),
        "p50_ms": round(percentile(ms, 50), 3),
        "p90_ms": round(percentile(ms, 90), 3),
        "p99_ms": round(percentile(ms, 99), 3),
        "mean_ms": round(sum(ms) / len(ms), 3),
        "max_ms": round(max(ms), 3),
    }


def window_rate(times: Iterable[float], trim: float = 0.1) -> tuple[float, int, float]:
    """Steady-state rate of events at `times`: the events between the `trim` and
    1 - `trim` quantiles of their times, over that span. (rate/s, events, span_s)."""
    ordered = sorted(times)
    if len(ordered) < 3:
        return math.nan, len(ordered), 0.0
    first = int(len(ordered) * trim)
    last = max(first + 1, int(len(ordered) * (1 - trim)) - 1)
    span = ordered[last] - ordered[first]
    return ((last - first) / span if span > 0 else math.nan), last - first, span


def _stat_fields(pid: int) -> list[str]:
    """/proc/<pid>/stat after the command name (which may hold spaces), or [] when gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return []
    return text.rsplit(")", 1)[-1].split()


def descendants(pid: int) -> list[int]:
    """`pid` and every process below it (children the platform's processes may start)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            fields = _stat_fields(int(entry.name))
            if fields:
                children.setdefault(int(fields[1]), []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(children.get(current, []))
    return found


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of `pid` and its descendants (utime+stime, /proc/<pid>/stat)."""
    total = 0
    for each in descendants(pid):
        fields = _stat_fields(each)
        if fields:  # fields[11], [12]: utime, stime (fields 14 and 15 of the full line)
            total += int(fields[11]) + int(fields[12])
    return total / CLOCK_TICKS


def rounded(value: float, digits: int = 3) -> float | None:
    """JSON-safe: NaN becomes None."""
    return None if value is None or math.isnan(value) else round(value, digits)
