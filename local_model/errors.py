"""Anthropic-shaped error responses, so the SDK maps and retries them like real ones."""

from __future__ import annotations

from typing import Any

ERROR_KINDS: dict[int, str] = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    529: "overloaded_error",
}

RETRY_AFTER_MS = "10"
"""Tiny `retry-after-ms` so the SDK's own retries of injected faults stay fast."""


class ApiError(Exception):
    """A request the server answers with an HTTP error instead of a message."""

    def __init__(self, status: int, message: str, *, injected: bool = False) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.injected = injected
        """True for deliberate faults (fault_rate or a scenario's `fail`), not real problems."""


def invalid_request(message: str) -> ApiError:
    """The 400 the real API sends for a malformed request."""
    return ApiError(400, message)


def error_kind(status: int) -> str:
    """The `error.type` the real API pairs with an HTTP status."""
    if status in ERROR_KINDS:
        return ERROR_KINDS[status]
    return "api_error" if status >= 500 else "invalid_request_error"


def error_body(status: int, message: str) -> dict[str, Any]:
    """The JSON body of an error response."""
    return {"type": "error", "error": {"type": error_kind(status), "message": message}}


def error_headers(status: int) -> dict[str, str]:
    """Headers that keep SDK retry backoff short for retryable statuses."""
    if status == 429 or status >= 500:
        return {"retry-after-ms": RETRY_AFTER_MS, "retry-after": "0"}
    return {}
