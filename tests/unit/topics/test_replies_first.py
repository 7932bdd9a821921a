"""The fetcher's rebuild after records are consumed waits behind a reply sent at once
(`topics.replies_first`); its other wake-ups are unchanged, and none is lost."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

from aiokafka.consumer.fetcher import Fetcher

from topics import clients, replies_first  # noqa: F401  (clients installs the deferral)
from topics.replies_first import YIELDS

SEND_TURNS = 3
"""aiokafka's turns from `producer.send` to the produce request written: asyncio.wait's
callback in the sender routine, the routine's step, its produce task's step."""


def fetcher() -> SimpleNamespace:
    return SimpleNamespace(_wait_consume_future=asyncio.get_running_loop().create_future())


async def turns_until(future: asyncio.Future[None], limit: int = 50) -> int:
    for turn in range(1, limit + 1):
        await asyncio.sleep(0)
        if future.done():
            return turn
    raise AssertionError(f"not woken within {limit} turns")


def test_installing_twice_wraps_once() -> None:
    wrapped = Fetcher._notify
    replies_first.install()
    assert Fetcher._notify is wrapped
    assert getattr(wrapped, "defers", False)


async def test_the_consumed_wake_up_comes_after_a_reply_sent_at_once() -> None:
    f = fetcher()
    written: list[bool] = []

    def send(turns_left: int) -> None:  # stands for producer.send -> socket write
        if turns_left:
            asyncio.get_running_loop().call_soon(send, turns_left - 1)
        else:
            written.append(f._wait_consume_future.done())

    Fetcher._notify(f, f._wait_consume_future)  # records handed out...
    send(SEND_TURNS)  # ...then the handler replies in the same turn
    assert not f._wait_consume_future.done()
    assert await turns_until(f._wait_consume_future) == YIELDS
    assert written == [False]


async def test_a_routine_waiting_on_a_new_future_is_woken_not_the_old_one() -> None:
    f = fetcher()
    old = f._wait_consume_future
    Fetcher._notify(f, old)
    f._wait_consume_future = new = asyncio.get_running_loop().create_future()
    await turns_until(new)
    assert not old.done()


async def test_other_futures_are_woken_at_once() -> None:
    f = fetcher()
    waiter = asyncio.get_running_loop().create_future()
    Fetcher._notify(f, waiter)
    assert waiter.done()
    Fetcher._notify(f, None)  # nothing to wake: no error
