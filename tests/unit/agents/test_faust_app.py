"""The orchestrator's faust app starts the services faust's own would, with a sensor that
does nothing in place of its Monitor."""

from __future__ import annotations

import logging

import faust
import pytest
from faust.sensors import Monitor, Sensor

from agents.faust_app import build_app
from config.settings import Settings


async def test_the_app_depends_on_what_faust_boots_with_a_no_op_sensor_for_its_monitor() -> None:
    app = build_app(Settings(topic_prefix="unit."))
    ours = list(app.on_init_dependencies())
    assert [type(sensor) for sensor in app.sensors] == [Sensor]  # faust's base: does nothing

    plain = faust.App("unit-plain", broker="kafka://127.0.0.1:9", web_enabled=False)
    theirs = list(plain.on_init_dependencies())
    assert any(isinstance(sensor, Monitor) for sensor in plain.sensors)
    # The same services in the same order (the consumer and producer are faust's, subclassed).
    mine = [s for s in ours if type(s) is not Sensor]
    faust_own = [s for s in theirs if not isinstance(s, Monitor)]
    assert len(mine) == len(faust_own)
    assert all(isinstance(a, type(b)) for a, b in zip(mine, faust_own, strict=True))


def test_a_rebalance_finds_its_sensor_state(caplog: pytest.LogCaptureFixture) -> None:
    """faust warns "Missing sensor state" at every rebalance of an app with no sensor."""
    app = build_app(Settings(topic_prefix="unit."))
    list(app.on_init_dependencies())
    with caplog.at_level(logging.WARNING):
        app.on_rebalance_start()
        app.on_rebalance_return()
        app.on_rebalance_end()
    assert not [r for r in caplog.records if "sensor state" in r.getMessage()]


async def test_the_producer_of_calls_events_and_answers_is_idempotent() -> None:
    """A batch retried after its leader died must not be written twice (leader-kill)."""
    app = build_app(Settings(topic_prefix="unit."))
    producer = app.producer._new_producer()
    try:
        assert producer._txn_manager is not None  # aiokafka's idempotence state
        assert producer._txn_manager.transactional_id is None  # no transactions
    finally:
        await producer.stop()
