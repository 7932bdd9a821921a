"""The orchestrator's faust app starts the services faust's own would, minus its Monitor."""

from __future__ import annotations

import faust
from faust.sensors import Monitor

from agents.faust_app import build_app
from config.settings import Settings


async def test_the_app_depends_on_what_faust_boots_but_adds_no_monitor_sensor() -> None:
    app = build_app(Settings(topic_prefix="unit."))
    ours = list(app.on_init_dependencies())
    assert not any(isinstance(sensor, Monitor) for sensor in app.sensors)

    plain = faust.App("unit-plain", broker="kafka://127.0.0.1:9", web_enabled=False)
    theirs = list(plain.on_init_dependencies())
    assert any(isinstance(sensor, Monitor) for sensor in plain.sensors)
    # The same services in the same order (the consumer is faust's, subclassed).
    assert [type(s).__name__ for s in ours] == [
        type(s).__name__ for s in theirs if not isinstance(s, Monitor)
    ]
