"""Where the harness writes: results under bench/results, process logs under the cache."""

from __future__ import annotations

from pathlib import Path

from agentstream import broker

ROOT = Path(__file__).resolve().parents[2]
"""The checkout, put on the platform processes' PYTHONPATH so they find `bench.chaos_tools`."""
RESULTS_DIR = ROOT / "bench" / "results"
LOG_ROOT = broker.CACHE_DIR / "chaos-logs"
