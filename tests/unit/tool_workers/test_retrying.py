"""The first attempt runs bare; only the named errors bring in the remaining tries."""

from __future__ import annotations

import time

import pytest

from tool_workers.retrying import once_then_retry


class Flaky(Exception):
    pass


def attempts_that(*outcomes: BaseException | str):
    """An attempt function returning or raising `outcomes` in turn, and its call log."""
    calls: list[int] = []

    async def attempt() -> str:
        outcome = outcomes[len(calls)]
        calls.append(1)
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome

    return attempt, calls


async def test_a_first_success_is_returned_after_one_attempt() -> None:
    attempt, calls = attempts_that("ok")
    assert await once_then_retry(attempt, Flaky, 3, 0.001, 0.01, time.time() + 5) == "ok"
    assert len(calls) == 1


async def test_named_errors_are_retried_up_to_the_attempts() -> None:
    attempt, calls = attempts_that(Flaky(), Flaky(), "ok")
    assert await once_then_retry(attempt, Flaky, 3, 0.001, 0.01, time.time() + 5) == "ok"
    assert len(calls) == 3
    attempt, calls = attempts_that(Flaky(), Flaky(), Flaky(), "never")
    with pytest.raises(Flaky):
        await once_then_retry(attempt, Flaky, 3, 0.001, 0.01, time.time() + 5)
    assert len(calls) == 3


async def test_other_errors_and_a_single_attempt_are_not_retried() -> None:
    attempt, calls = attempts_that(ValueError("bad"), "never")
    with pytest.raises(ValueError):
        await once_then_retry(attempt, Flaky, 3, 0.001, 0.01, time.time() + 5)
    assert len(calls) == 1
    attempt, calls = attempts_that(Flaky(), "never")
    with pytest.raises(Flaky):
        await once_then_retry(attempt, Flaky, 1, 0.001, 0.01, time.time() + 5)
    assert len(calls) == 1
