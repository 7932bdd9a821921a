"""The deadline index: what the timer ticks, and when it ticks again."""

from __future__ import annotations

from agents.deadlines import RETICK_AFTER_S, DeadlineIndex


def test_a_due_deadline_is_ticked_once_then_again_if_it_still_stands() -> None:
    index = DeadlineIndex()
    index.set("a", 10.0)
    index.set("b", 20.0, in_flight=False)
    assert index.due(9.9) == [] and index.in_flight == 1
    assert index.due(10.0) == ["a"]
    assert index.due(10.0 + RETICK_AFTER_S - 0.1) == []
    assert index.due(10.0 + RETICK_AFTER_S) == ["a"], "a lost tick is sent again"
    assert sorted(index.due(25.0)) == ["a", "b"]


def test_a_moved_or_removed_deadline_is_not_ticked_for_its_old_value() -> None:
    index = DeadlineIndex()
    index.set("a", 10.0)
    index.set("a", 30.0)
    index.set("b", 10.0)
    index.set("b", None)
    assert index.due(15.0) == [] and len(index) == 1
    assert index.due(30.0) == ["a"]


def test_the_heap_stays_bounded_when_deadlines_keep_moving() -> None:
    index = DeadlineIndex()
    for i in range(100_000):
        index.set("a", 1_000.0 + i)
    assert len(index._heap) <= 4 * len(index) + 1024
    assert index.due(1_000.0 + 99_999) == ["a"]


def test_replace_starts_over_from_the_table() -> None:
    index = DeadlineIndex()
    index.set("gone", 1.0)
    index.replace({"a": (5.0, True), "b": (6.0, False)})
    assert index.in_flight == 1 and len(index) == 2
    assert index.due(10.0) == ["a", "b"]
