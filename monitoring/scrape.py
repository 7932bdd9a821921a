"""Read a /metrics endpoint (used by the demo's self-check and by tests)."""

from __future__ import annotations

import urllib.request

from prometheus_client.parser import text_string_to_metric_families


def scrape(url: str, timeout_s: float = 5.0) -> dict[str, float]:
    """Every sample on the page as 'name{labels}' -> value."""
    with urllib.request.urlopen(url, timeout=timeout_s) as page:
        text = page.read().decode()
    out: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = ",".join(f'{k}="{v}"' for k, v in sorted(sample.labels.items()))
            out[f"{sample.name}{{{labels}}}"] = sample.value
    return out


def scrape_sum(url: str, name: str) -> float:
    """Sum of one sample name over all its label sets."""
    return sum(v for k, v in scrape(url).items() if k.split("{", 1)[0] == name)
