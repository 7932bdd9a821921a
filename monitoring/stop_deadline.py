"""A bound on every graceful stop: the process exits `grace_s` after its stop began.

A graceful stop drains in-flight work, commits offsets and flushes producers, and each of
those waits on the broker. While the broker is gone, faust's stop waited on its commit,
its stream drain and its producer flush for a minute and more (and aiokafka's consumer
stop on a cancelled fetch, `topics.clients.stop_consumer`). Crash safety already covers
an exit at any moment: what was not committed is redelivered and answered once
(docs/crash-safety.md), so past the grace the process just exits.
"""

from __future__ import annotations

import faulthandler
import logging
import os
import threading

log = logging.getLogger(__name__)

EXIT_CODE = 75
"""EX_TEMPFAIL: stopped, but not cleanly; a supervisor may start it again."""
_armed = threading.Event()


def arm(grace_s: float) -> None:
    """Exit the process `grace_s` from now unless it has ended by then (once per process).

    A daemon thread, not a task: the event loop may be what is stuck."""
    if _armed.is_set():
        return
    _armed.set()
    log.info("Stopping; exiting within %g s at most.", grace_s)
    timer = threading.Timer(grace_s, _expire, args=(grace_s,))
    timer.daemon = True
    timer.start()


def _expire(grace_s: float) -> None:
    """Say why, show where the stop was stuck, exit. No logging here: a handler's lock may
    be held by the thread that is stuck (a full pipe), and the exit must not wait on it."""
    try:
        message = (
            f"The graceful stop did not finish within {grace_s:g} s; exiting now. Work not "
            "committed is redelivered. Where each thread was:\n"
        )
        os.write(2, message.encode())
        faulthandler.dump_traceback(all_threads=True)
    finally:
        os._exit(EXIT_CODE)


def armed() -> bool:
    """Whether a stop has begun in this process (tests check that none leaks)."""
    return _armed.is_set()
