"""The import contracts in pyproject.toml hold: imports run one way, the machine is pure.

Contracts (import-linter): `bench` > `agentstream` (CLI, demo, stack, broker) >
`agents` | `tool_workers` | `local_model` (independent of each other: the orchestrator and
the workers meet only through `topics`) > `monitoring` > `config` > `topics`.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_import_contracts_are_kept() -> None:
    lint_imports = Path(sys.executable).with_name("lint-imports")
    done = subprocess.run(
        [str(lint_imports), "--no-cache"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "2 kept, 0 broken" in done.stdout
