"""What a process builds at start is exempt from garbage collection unless told otherwise."""

from __future__ import annotations

import gc
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from config import heap

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def unfrozen() -> Iterator[None]:
    gc.unfreeze()
    yield
    gc.unfreeze()


def test_freezing_exempts_what_exists_and_not_what_comes_after(unfrozen: None) -> None:
    assert gc.get_freeze_count() == 0
    heap.freeze_startup_objects()
    frozen = gc.get_freeze_count()
    assert frozen > 0
    later = [[i] for i in range(1000)]  # tracked containers made after the freeze
    assert gc.get_freeze_count() == frozen, "only what existed at the freeze is exempt"
    del later


@pytest.mark.parametrize(("setting", "frozen"), [(None, True), ("true", True), ("false", False)])
def test_a_worker_process_freezes_its_startup_heap_as_configured(
    setting: str | None, frozen: bool
) -> None:
    """What `boot` (every worker's start) leaves behind."""
    env = {k: v for k, v in os.environ.items() if k != "AGENTSTREAM_FREEZE_STARTUP_HEAP"}
    if setting is not None:
        env["AGENTSTREAM_FREEZE_STARTUP_HEAP"] = setting
    code = "import gc\nfrom monitoring.boot import boot\nboot(None)\nprint(gc.get_freeze_count())\n"
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert (int(done.stdout.strip()) > 0) is frozen
