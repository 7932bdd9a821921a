"""The worker's commit point never passes a call that has not finished."""

from __future__ import annotations

from aiokafka import TopicPartition
from hypothesis import given
from hypothesis import strategies as st

from tool_workers.offsets import ContiguousOffsets

TP = TopicPartition("tool.x.calls", 0)


@st.composite
def runs(draw: st.DrawFn) -> tuple[int, list[int]]:
    """A batch of consecutive offsets and the order in which a subset of them finishes."""
    start = draw(st.integers(0, 1_000))
    count = draw(st.integers(1, 40))
    offsets = list(range(start, start + count))
    finished = draw(st.permutations(offsets))
    return start, finished[: draw(st.integers(0, count))]


@given(runs())
def test_the_commit_point_is_the_lowest_unfinished_offset(run: tuple[int, list[int]]) -> None:
    start, finish_order = run
    offsets = ContiguousOffsets()
    count = 40
    for offset in range(start, start + count):
        offsets.started(TP, offset)
    done: set[int] = set()
    for offset in finish_order:
        offsets.finished(TP, offset)
        done.add(offset)
        point = offsets.committable().get(TP)
        pending = [o for o in range(start, start + count) if o not in done]
        expected = min(pending) if pending else start + count
        assert point in (None, expected)  # None: unchanged since the last commit
        if point is not None:
            offsets.mark_committed({TP: point})
        assert all(o in done for o in range(start, expected)), "nothing unfinished is skipped"


def test_nothing_is_committable_twice_and_forgotten_partitions_vanish() -> None:
    offsets = ContiguousOffsets()
    offsets.started(TP, 5)
    offsets.finished(TP, 5)
    assert offsets.committable() == {TP: 6}
    offsets.mark_committed({TP: 6})
    assert offsets.committable() == {}
    offsets.forget({TP})
    assert offsets.committable() == {}
