"""A bound on how often the Kafka client repeats itself in the logs.

While the broker is gone every consumer logs a failed fetch each retry back-off (0.1 s)
and every client a failed connection per attempt: 20-50 lines a second per process even
with metadata retries backed off (`topics.metadata_backoff`), and 950 a second under
load before that. The lines say the same thing over and over, fill disks and cost CPU.
`RepeatLimit` lets the first few lines of a kind through per window, and the next one
after the window says how many were left out.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

BURST = 3
"""Lines of one kind let through per window."""
WINDOW_S = 10.0
MAX_KINDS = 1_000
"""Kinds tracked at once; past it the counts start over (bounded memory)."""
CLIENT_LOGGERS = ("aiokafka", "faust.transport.producer")
"""The logger families limited: the Kafka client's, and faust's producer buffer (it warns
per flush under load). The platform's own lines and faust's consumer (its per-partition
warnings of slow processing) are not limited."""
_NUMBER = re.compile(r"\d+")


@dataclass
class _Kind:
    window_start: float
    passed: int = 1
    left_out: int = 0


class RepeatLimit(logging.Filter):
    """At most `burst` records per kind per `window_s`: a kind is a logger and a message
    template, numbers left out (faust formats its messages itself)."""

    def __init__(self, burst: int = BURST, window_s: float = WINDOW_S) -> None:
        super().__init__()
        self.burst, self.window_s = burst, window_s
        self._kinds: dict[tuple[str, str], _Kind] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        key = (record.name, _NUMBER.sub("#", str(record.msg)))
        kind = self._kinds.get(key)
        if kind is None or record.created - kind.window_start >= self.window_s:
            if len(self._kinds) >= MAX_KINDS:
                self._kinds.clear()
            self._kinds[key] = _Kind(record.created)
            if kind is not None and kind.left_out:
                record.msg = (
                    f"{record.msg} [{kind.left_out} more like this in the "
                    f"{self.window_s:g} s before were left out]"
                )
            return True
        if kind.passed < self.burst:
            kind.passed += 1
            return True
        kind.left_out += 1
        return False


def limit_client_repeats(limit: RepeatLimit | None = None) -> RepeatLimit:
    """Attach one RepeatLimit to every logger of the Kafka client's families.

    A filter on a logger sees only the records made by that logger, so it goes on each
    one; they exist once the client's modules are imported, as they are by then."""
    limit = limit or RepeatLimit()
    names = [
        name
        for name in list(logging.root.manager.loggerDict)
        if any(name == family or name.startswith(family + ".") for family in CLIENT_LOGGERS)
    ]
    for name in {*names, *CLIENT_LOGGERS}:
        logger = logging.getLogger(name)
        if limit not in logger.filters:
            logger.addFilter(limit)
    return limit
