"""Start and stop our own child processes by PID, never by name."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Spawned:
    """A process this project started: its PID, what it runs and where it logs."""

    pid: int
    argv: tuple[str, ...]
    log_path: Path


def spawn(argv: list[str], log_path: Path, env: dict[str, str] | None = None) -> Spawned:
    """Start `argv` in its own session so a stop can end it and its children together."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log:
        proc = subprocess.Popen(
            argv,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            start_new_session=True,
        )
    return Spawned(pid=proc.pid, argv=tuple(argv), log_path=log_path)


def is_alive(pid: int) -> bool:
    """True if `pid` exists and is not a zombie."""
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    stat = Path(f"/proc/{pid}/stat")
    with contextlib.suppress(OSError):
        return stat.read_text().split(")")[-1].split()[0] != "Z"
    return True


def cmdline(pid: int) -> str:
    """The command line of `pid` ('' when gone); used to check a PID is still ours."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def _reap(pid: int) -> None:
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


def stop_pid(pid: int, expect_in_cmdline: str, grace_s: float = 20.0) -> bool:
    """SIGTERM the process group led by `pid`, SIGKILL after `grace_s`; False if it was gone.

    `expect_in_cmdline` guards against a recycled PID: a process whose command line
    lacks it is never signalled.
    """
    if not is_alive(pid) or expect_in_cmdline not in cmdline(pid):
        return False
    if not _signal_and_wait(pid, signal.SIGTERM, grace_s, 0.05):
        _signal_and_wait(pid, signal.SIGKILL, None, 0.05)
    return True


def signal_pid(
    pid: int, expect_in_cmdline: str, sig: signal.Signals, timeout_s: float = 30.0
) -> bool:
    """Send `sig` to the process group led by `pid` and wait (bounded) until it exited.

    For fault injection: SIGKILL to crash a process, SIGTERM to see a graceful exit.
    Returns True when the process is gone, False when it still ran after `timeout_s` or
    was never ours (a command line without `expect_in_cmdline` is never signalled).
    """
    if not is_alive(pid) or expect_in_cmdline not in cmdline(pid):
        return not is_alive(pid)
    return _signal_and_wait(pid, sig, timeout_s, 0.02)


def _signal_and_wait(pid: int, sig: signal.Signals, timeout_s: float | None, poll_s: float) -> bool:
    """Signal the group led by `pid`; True once it exited, False if it outlived `timeout_s`
    (None: wait as long as it takes, for SIGKILL)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, sig)
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    while deadline is None or time.monotonic() < deadline:
        _reap(pid)
        if not is_alive(pid):
            return True
        time.sleep(poll_s)
    return False
