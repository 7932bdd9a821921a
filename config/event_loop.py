"""Which asyncio event loop the platform's processes run on: uvloop unless told otherwise.

Every process of the platform spends most of its CPU moving Kafka records through
asyncio: socket reads and writes, futures, callbacks. uvloop (libuv, in C) does the loop's
part of that for less: the orchestrator's Kafka traffic alone, replayed through plain
aiokafka (`bench/baselines/kafka_relay.py`, 2,000 conversations at 100/s), took 3.48
instead of 3.93 ms of CPU per conversation in the relay and 2.74 instead of 3.23 in the
echo standing in for the workers (3 interleaved pairs on 2 cores; the README's "Event
loop" has the platform's own figures). `asyncio` keeps the standard library's loop, for a
platform where uvloop cannot be installed.
"""

from __future__ import annotations

import asyncio
from typing import Literal

EventLoop = Literal["uvloop", "asyncio"]


def use(loop: EventLoop) -> None:
    """Make every loop this process creates from now on (`asyncio.run`, faust's worker) a
    `loop` one. Call it before the first loop is made."""
    if loop == "uvloop":
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    else:
        asyncio.set_event_loop_policy(asyncio.DefaultEventLoopPolicy())
