"""The one error the broker package raises, so callers can tell provisioning failures apart."""

from __future__ import annotations


class BrokerError(RuntimeError):
    """The broker could not be provisioned, started or reached; the message says why."""
