"""Read prometheus-client metrics in-process (unit tests of code that records them)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge


def counter_value(metric: Counter | Gauge, *labels: str) -> float:
    """The current value of one labelled child (0 when it was never touched)."""
    child = metric.labels(*labels) if labels else metric
    return float(child._value.get())
