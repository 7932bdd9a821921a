"""What a phase returns, and the run's report: the table (stdout and Markdown) and JSON."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

HEADER = ["metric", "agentstream", "baseline(s)", "ratio", "target"]


@dataclass
class Row:
    """One line of the table. `ratio`: agentstream's figure divided by each baseline's."""

    metric: str
    value: str
    baselines: str = "-"
    ratio: str = "-"
    target: str = "-"
    met: bool | None = None

    def cells(self) -> list[str]:
        verdict = {True: "met", False: "NOT met", None: ""}[self.met]
        target = f"{self.target} ({verdict})" if verdict and self.target != "-" else self.target
        return [self.metric, self.value, self.baselines, self.ratio, target]


@dataclass
class PhaseResult:
    """One phase: its figures, its baselines' figures, ratios, skips and table rows."""

    name: str
    figures: dict[str, Any] = field(default_factory=dict)
    baselines: dict[str, Any] = field(default_factory=dict)
    ratios: dict[str, float | None] = field(default_factory=dict)
    skips: dict[str, str] = field(default_factory=dict)
    targets: dict[str, bool | None] = field(default_factory=dict)
    rows: list[Row] = field(default_factory=list)
    config: dict[str, Any] = field(default_factory=dict)
    logs: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0
    error: str | None = None

    def add(self, row: Row, key: str | None = None) -> None:
        """Add a row; with `key`, its verdict is also recorded under `targets`."""
        self.rows.append(row)
        if key is not None:
            self.targets[key] = row.met


def ms(value: float | None) -> str:
    if value is None or math.isnan(value):
        return "n/a"
    return f"{value:.2f} ms" if value < 100 else f"{value:,.0f} ms"


def num(value: float | None, unit: str = "", digits: int = 1) -> str:
    if value is None or math.isnan(value):
        return "n/a"
    return f"{value:,.{digits}f}{' ' + unit if unit else ''}"


def ratio(value: float | None, base: float | None) -> float | None:
    """value / base, or None when either is missing or the base is zero."""
    if value is None or base is None or base == 0 or math.isnan(value) or math.isnan(base):
        return None
    return round(value / base, 3)


def ratio_text(pairs: list[tuple[str, float | None]]) -> str:
    shown = [f"{r:.2f}x {label}" for label, r in pairs if r is not None]
    return "; ".join(shown) or "-"


def markdown(results: list[PhaseResult]) -> str:
    """Every phase's rows as one Markdown table; a failed phase shows its error."""
    lines = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    for result in results:
        if result.error:
            lines.append(f"| {result.name}: failed | {result.error[:150]} | - | - | - |")
        for row in result.rows:
            lines.append("| " + " | ".join(c.replace("|", "/") for c in row.cells()) + " |")
    return "\n".join(lines)


def results_page(results: list[PhaseResult], machine: dict[str, Any], stamp: str) -> str:
    """docs/bench/results.md: the table, when and where it was measured, and the skips."""
    skips = [f"- {r.name}: {name}: {why}" for r in results for name, why in r.skips.items()]
    when = f"{stamp[:4]}-{stamp[4:6]}-{stamp[6:8]} {stamp[9:11]}:{stamp[11:13]} UTC"
    head = (
        f"Measured {when} on {machine['cores']} cores, Python {machine['python']}, "
        f"Kafka {machine['kafka_version']} (one local broker); `make bench`. Ratios are "
        "agentstream's figure divided by the baseline's, both from the same run."
    )
    parts = ["# Benchmark results", "", head, "", markdown(results), ""]
    if skips:
        parts += ["Baselines skipped in this run:", "", *skips, ""]
    parts += ["![Benchmark chart](chart.png)", ""]
    return "\n".join(parts)


def write_json(out: Path, document: dict[str, Any]) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(document, indent=2, default=str) + "\n")


def as_json(result: PhaseResult) -> dict[str, Any]:
    data = asdict(result)
    data["rows"] = [dict(zip(HEADER, row.cells(), strict=True)) for row in result.rows]
    return data
