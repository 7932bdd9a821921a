"""Read a /metrics endpoint (used by the demo's self-check)."""

from __future__ import annotations

import urllib.request

from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample


def scrape(url: str, timeout_s: float = 5.0) -> list[Sample]:
    """Every sample on the page."""
    with urllib.request.urlopen(url, timeout=timeout_s) as page:
        text = page.read().decode()
    return [s for family in text_string_to_metric_families(text) for s in family.samples]


def scrape_sum(url: str, name: str, **labels: str) -> float:
    """Sum of one sample name over the label sets that carry all of `labels`."""
    return sum(
        s.value
        for s in scrape(url)
        if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())
    )
