"""The report: the final table, and the JSON document of every scenario's result."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

from bench.chaos.audit import ScenarioResult
from bench.chaos.load import Load

COLUMNS = [
    ("scenario", 28),
    ("sent", 5),
    ("answered", 8),
    ("completed", 9),
    ("other", 18),
    ("never", 5),
    ("dup", 4),
    ("timed_out", 9),
    ("tool>1", 6),
    ("tool_err", 8),
    ("resumed_s", 9),
    ("tail_s", 7),
    ("wall_s", 7),
    ("ok", 4),
]


def table(results: list[ScenarioResult]) -> str:
    """The final table: one row per scenario, invariants and recovery time side by side."""
    head = " ".join(name.ljust(width) for name, width in COLUMNS)
    rows = [head, "-" * len(head)]
    for r in results:
        cells = [
            r.scenario,
            r.sent,
            r.answered,
            r.completed,
            ",".join(f"{k}:{v}" for k, v in r.statuses.items()) or "-",
            r.never_answered,
            r.duplicate_responses,
            r.timed_out,
            r.tools_executed_more_than_once,
            r.answers_with_failed_calls,
            "-" if r.kill_to_resumed_s is None else r.kill_to_resumed_s,
            "-" if r.in_flight_answered_s is None else r.in_flight_answered_s,
            r.wall_s,
            "ok" if r.ok else ("ERR" if r.error else "FAIL"),
        ]
        rows.append(" ".join(str(c).ljust(w) for c, (_, w) in zip(cells, COLUMNS, strict=True)))
        if r.error:
            rows.append(f"  error: {r.error}")
    return "\n".join(rows)


def write_results(
    out: Path, load: Load, wall_s: float, log_root: Path, results: list[ScenarioResult]
) -> None:
    """The whole run as one JSON document: the load, the wall time, every scenario's result."""
    out.parent.mkdir(parents=True, exist_ok=True)
    document = {"load": asdict(load), "wall_s": round(wall_s, 1), "log_dir": str(log_root)}
    out.write_text(json.dumps({**document, "scenarios": [r.as_json() for r in results]}, indent=2))
