"""`EagerWaitFirst`: mode's `wait_first` answers, without mode's tasks when it can."""

from __future__ import annotations

import asyncio
import inspect
import warnings
from typing import Any

import pytest
from faust.transport import consumer as faust_consumer
from faust.transport.drivers import aiokafka as faust_aiokafka
from mode import Service
from mode.utils.locks import Event

from agents.eager_wait import EagerWaitFirst
from agents.faust_fixes import Consumer


class Plain(Service):
    """mode's own `wait_first`."""


class Eager(EagerWaitFirst, Service):
    pass


def count_tasks(loop: asyncio.AbstractEventLoop) -> list[int]:
    """Count every task created on `loop` from now on."""
    created = [0]

    def factory(loop: asyncio.AbstractEventLoop, coro: Any, **kwargs: Any) -> asyncio.Task[Any]:
        created[0] += 1
        return asyncio.Task(coro, loop=loop, **kwargs)

    loop.set_task_factory(factory)
    return created


async def deliver(log: list[str], value: int) -> int:
    log.append(f"delivered {value}")
    return value * 2


async def test_a_callback_that_never_suspends_runs_inline_without_tasks() -> None:
    service, flow, log = Eager(), Event(), []
    created = count_tasks(asyncio.get_running_loop())
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an unawaited flow.wait() would warn
        results = await service.wait_first(deliver(log, 21), flow.wait())
    assert (results.results, results.stopped) == ([42], False)
    assert log == ["delivered 21"]
    assert created[0] == 0
    created_plain = count_tasks(asyncio.get_running_loop())
    await Plain().wait_first(deliver(log, 1), flow.wait())
    assert created_plain[0] == 4  # mode's way: the callback, the flow, stopped, crashed


async def test_a_callback_that_suspends_is_finished_by_a_task_from_where_it_stopped() -> None:
    service, flow, log = Eager(), Event(), []
    room: asyncio.Future[str] = asyncio.get_running_loop().create_future()

    async def put_when_room() -> str:
        log.append("waiting for room")
        got = await room
        log.append(f"put after {got}")
        await asyncio.sleep(0)  # a bare yield passes through as well
        return got.upper()

    waiting = asyncio.ensure_future(service.wait_first(put_when_room(), flow.wait()))
    await asyncio.sleep(0)
    assert log == ["waiting for room"] and not waiting.done()
    room.set_result("ebb")
    results = await asyncio.wait_for(waiting, 5)
    assert (results.results, results.stopped) == (["EBB"], False)
    assert log == ["waiting for room", "put after ebb"]


async def test_a_suspended_callback_is_cancelled_at_its_await_when_the_flow_stops_first() -> None:
    service, flow, log = Eager(), Event(), []
    never: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    async def blocked() -> None:
        try:
            await never
        except asyncio.CancelledError:
            log.append("cancelled at its await")
            raise

    waiting = asyncio.ensure_future(service.wait_first(blocked(), flow.wait()))
    await asyncio.sleep(0)
    flow.set()
    results = await asyncio.wait_for(waiting, 5)
    assert results.stopped is False and results.results == [True]  # the flow event won
    for _ in range(3):
        await asyncio.sleep(0)
    assert log == ["cancelled at its await"] and never.cancelled()


async def test_errors_propagate_before_and_after_a_suspension() -> None:
    service, flow = Eager(), Event()

    async def fails_at_once() -> None:
        raise ValueError("undecodable")

    async def fails_later() -> None:
        await asyncio.sleep(0)
        raise KeyError("gone")

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ValueError, match="undecodable"):
            await service.wait_first(fails_at_once(), flow.wait())
    with pytest.raises(KeyError, match="gone"):
        await asyncio.wait_for(service.wait_first(fails_later(), flow.wait()), 5)


async def test_a_stopped_service_answers_stopped_as_mode_does() -> None:
    log: list[str] = []
    answers = []
    for service in (Plain(), Eager()):
        service._stopped.set()
        results = await service.wait_first(deliver(log, 1), Event().wait())
        answers.append((results.done, results.results, results.stopped))
    assert answers == [([], [], True), ([], [], True)]
    assert log == ["delivered 1", "delivered 1"]  # mode runs the callback all the same


async def test_anything_but_a_coroutine_first_takes_modes_path() -> None:
    service, ready = Eager(), Event()
    ready.set()
    results = await asyncio.wait_for(service.wait_first(ready), 5)
    assert (results.done, results.results, results.stopped) == ([ready], [True], False)


def test_the_orchestrators_consumer_delivers_records_eagerly() -> None:
    assert Consumer.wait_first is EagerWaitFirst.wait_first
    assert Consumer.__mro__.index(EagerWaitFirst) < Consumer.__mro__.index(faust_aiokafka.Consumer)


def test_faust_still_hands_each_record_over_through_wait_first() -> None:
    """What the fast path is for (faust-streaming 0.15.3): the callback comes first."""
    source = " ".join(inspect.getsource(faust_consumer.Consumer._drain_messages).split())
    assert "await self.wait_first( callback(message), self.suspend_flow.wait() )" in source


async def test_with_the_flow_already_set_the_first_answer_is_the_callbacks_as_under_mode() -> None:
    """faust's `Service.wait` (`_wait_one`) reads the first result only."""
    firsts = []
    for service in (Plain(), Eager()):
        flow = Event()
        flow.set()
        results = await asyncio.wait_for(service.wait_first(deliver([], 5), flow.wait()), 5)
        firsts.append((results.results[0], results.stopped))
    assert firsts == [(10, False), (10, False)]
