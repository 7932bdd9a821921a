"""A stop that does not finish within its grace ends the process anyway, with a line that
says so; an armed deadline does not hold up a process that ends in time."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from monitoring.stop_deadline import EXIT_CODE

ROOT = Path(__file__).resolve().parents[3]
STUCK = """
import logging, sys, time
logging.basicConfig(level=logging.INFO)
from monitoring import stop_deadline
stop_deadline.arm(0.5)
stop_deadline.arm(60)  # a second stop does not move the deadline
time.sleep(60)
"""
PROMPT = """
from monitoring import stop_deadline
stop_deadline.arm(60)
"""


def run(code: str) -> tuple[subprocess.CompletedProcess[str], float]:
    began = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=30
    )
    return done, time.monotonic() - began


def test_a_stuck_stop_exits_when_the_grace_runs_out() -> None:
    done, took = run(STUCK)
    assert done.returncode == EXIT_CODE, done.stderr
    assert took < 20
    assert "The graceful stop did not finish within 0.5 s; exiting now." in done.stderr
    assert "most recent call first" in done.stderr  # where each thread was


def test_a_process_that_ends_in_time_is_not_held_by_the_deadline() -> None:
    done, took = run(PROMPT)
    assert done.returncode == 0, done.stderr
    assert took < 20
