"""Typed errors that carry control flow between a tool function and its worker."""

from __future__ import annotations


class ToolError(Exception):
    """A tool failed in a way the model should hear about (returned as is_error)."""


class RetryableToolError(ToolError):
    """A transient failure (upstream 5xx, timeout): the worker retries a few times, quickly."""


class InvalidToolInput(ToolError):
    """The input is wrong in a way the schema could not express; the model should fix it."""


class FatalToolError(Exception):
    """Not for the model's eyes (e.g. auth failure on an internal system): fails the request."""
