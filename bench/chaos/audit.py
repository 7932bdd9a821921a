"""The audit: from what was sent, answered and executed, what was lost, doubled or slow."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from agentstream.stack import Stack
from bench.chaos.faults import FaultRecord, Target
from bench.chaos.load import Answer, Tracker


@dataclass
class ScenarioResult:
    """One scenario's outcome; the four invariants are the last columns of the table."""

    scenario: str
    sent: int = 0
    send_failed: int = 0
    answered: int = 0
    completed: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    never_answered: int = 0
    duplicate_responses: int = 0
    timed_out: int = 0
    tool_executions: int = 0
    tools_executed_more_than_once: int = 0
    answers_with_failed_calls: int = 0
    """Answers whose text reports a failed chaos call: at-most-once means a call interrupted
    by a kill is not run again, and the model hears it failed (informational)."""
    kill_to_resumed_s: float | None = None
    """The first fault's; see `resumed_after`."""
    in_flight_answered_s: float | None = None
    """The first fault's; see `in_flight_answered_after`."""
    faults: list[dict[str, Any]] = field(default_factory=list)
    outstanding: dict[str, int] = field(default_factory=dict)
    undecodable_responses: int = 0
    samples: dict[str, list[str]] = field(default_factory=dict)
    """A few conversation / tool_use ids per failed invariant, to look up in the logs."""
    unexpected_exits: list[str] = field(default_factory=list)
    log_errors: dict[str, dict[str, Any]] = field(default_factory=dict)
    ready_s: float | None = None
    """From starting the stack to starting the load (probes answered)."""
    wall_s: float = 0.0
    log_dir: str = ""
    error: str | None = None

    @property
    def ok(self) -> bool:
        """Zero lost, duplicated, timed-out or twice-executed; the scenario itself ran."""
        return self.error is None and not (
            self.never_answered
            or self.duplicate_responses
            or self.timed_out
            or self.tools_executed_more_than_once
        )

    def as_json(self) -> dict[str, Any]:
        return {**asdict(self), "ok": self.ok}


def ledger_entries(path: Path) -> dict[str, list[tuple[str, float]]]:
    """Per tool_use_id, each execution's worker pid and unix time, from the ledger lines."""
    entries: dict[str, list[tuple[str, float]]] = {}
    lines = path.read_text().splitlines() if path.exists() else []
    for line in filter(None, lines):
        call, pid, at = [*line.split("\t"), "", "0"][:3]
        entries.setdefault(call, []).append((pid, float(at)))
    return entries


def _completed_after(fault: FaultRecord, tracker: Tracker) -> list[Answer]:
    """`completed` answers produced after the fault (record CreateTime, so answers already
    in transit at the kill do not count) to conversations in flight at it (sent,
    unanswered); when nothing was in flight, to any conversation."""
    pool = fault.in_flight or set(tracker.sent)
    return [
        answer
        for cid in pool
        for answer in tracker.responses.get(cid, [])
        if answer.status == "completed" and answer.produced > fault.wall
    ]


def resumed_after(fault: FaultRecord, tracker: Tracker) -> float | None:
    """kill_to_resumed_s: seconds from the fault to the first of `_completed_after`, by
    when it was produced."""
    times = [answer.produced for answer in _completed_after(fault, tracker)]
    return round(min(times) - fault.wall, 2) if times else None


def received_after(fault: FaultRecord, tracker: Tracker) -> float | None:
    """kill_to_received_s: the same, by when the client read it: for a broker kill the
    answers produced meanwhile only arrive once the broker is back."""
    times = [answer.received for answer in _completed_after(fault, tracker)]
    return round(min(times) - fault.at, 2) if times else None


def in_flight_answered_after(fault: FaultRecord, tracker: Tracker) -> float | None:
    """Seconds from the fault until the last conversation in flight at it was answered
    (the recovery tail); None when one of them never was."""
    firsts = [tracker.responses.get(cid, [None])[0] for cid in fault.in_flight]
    if not firsts or None in firsts:
        return None
    return round(max(a.received for a in firsts if a) - fault.at, 2)


SAMPLES = 5


def summarise(result: ScenarioResult, target: Target) -> None:
    """Fill `result` from the tracker, the ledger and the processes' logs."""
    tracker = target.tracker
    answers = {cid: tracker.responses[cid] for cid in tracker.sent if cid in tracker.responses}
    statuses = Counter(found[0].status for found in answers.values())
    lost = sorted(set(tracker.sent) - set(answers))
    doubled = {cid: found for cid, found in sorted(answers.items()) if len(found) > 1}
    executions = ledger_entries(target.stack.config.log_dir / "ledger.txt")
    repeated = {call: runs for call, runs in sorted(executions.items()) if len(runs) > 1}
    result.sent, result.send_failed = len(tracker.sent), len(tracker.send_failed)
    result.undecodable_responses = tracker.undecodable
    result.answered, result.completed = len(answers), statuses.pop("completed", 0)
    result.statuses = dict(statuses)
    result.never_answered, result.duplicate_responses = len(lost), len(doubled)
    result.timed_out = statuses.get("timed_out", 0)
    result.tool_executions = sum(len(runs) for runs in executions.values())
    result.tools_executed_more_than_once = len(repeated)
    failures = [found[0].tool_failed for found in answers.values() if found[0].tool_failed]
    result.answers_with_failed_calls = len(failures)
    result.samples = samples(target, lost, doubled, repeated, failures)
    result.faults = [fault_summary(f, target) for f in target.faults]
    if result.faults:
        result.kill_to_resumed_s = result.faults[0]["kill_to_resumed_s"]
        result.in_flight_answered_s = result.faults[0]["in_flight_answered_s"]
    result.unexpected_exits = sorted(set(target.stack.dead()) - target.gone_for_good)
    result.log_errors = log_errors(target.stack, target.log_marks)


def samples(
    target: Target,
    lost: list[str],
    doubled: dict[str, list[Answer]],
    repeated: dict[str, list[tuple[str, float]]],
    failures: list[str],
) -> dict[str, list[str]]:
    """A few ids per broken invariant, with times relative to the load's start (faults'
    `at_s` use the same origin), to look them up in the logs."""

    def since(unix_s: float) -> str:
        return f"{unix_s - target.began_wall:.2f}s"

    found = {
        "never_answered": [
            f"{cid} sent at {target.tracker.sent[cid] - target.began:.2f}s" for cid in lost
        ],
        "duplicated": [
            f"{cid}: " + ", ".join(f"{a.status} produced at {since(a.produced)}" for a in answers)
            for cid, answers in doubled.items()
        ],
        "failed_call_reasons": [f"{n}x {why}" for why, n in Counter(failures).most_common()],
        "executed_twice": [
            f"{call}: " + ", ".join(f"pid {pid} at {since(at)}" for pid, at in runs)
            for call, runs in repeated.items()
        ],
    }
    return {key: lines[:SAMPLES] for key, lines in found.items() if lines}


def fault_summary(fault: FaultRecord, target: Target) -> dict[str, Any]:
    """One fault as reported: what, when in the load, and how long recovery took."""
    return {
        "action": fault.action,
        "at_s": round(fault.at - target.began, 2),
        "in_flight": len(fault.in_flight),
        "kill_to_resumed_s": resumed_after(fault, target.tracker),
        "kill_to_received_s": received_after(fault, target.tracker),
        "in_flight_answered_s": in_flight_answered_after(fault, target.tracker),
        "note": fault.note.strip("; "),
    }


ERROR_LINE = re.compile(r"\b(ERROR|CRITICAL)\b|Traceback")
STAMP = re.compile(r"^(\[[^\]]*\]\s*(\[\d+\]\s*)?|\d{4}-\d\d-\d\d [\d:,.]+\s*)")
"""Faust's `[time] [pid] ` or logging's `date time ` prefix, so repeated errors dedupe."""


def log_errors(stack: Stack, marks: dict[str, int], samples: int = 3) -> dict[str, dict[str, Any]]:
    """Per process: error lines logged since its mark, and the first few distinct ones."""
    found: dict[str, dict[str, Any]] = {}
    for name, proc in stack.processes.items():
        if not proc.log_path.exists():
            continue
        with proc.log_path.open("rb") as log:
            log.seek(marks.get(name, 0))
            lines = log.read().decode(errors="replace").splitlines()
        errors = [line for line in lines if ERROR_LINE.search(line)]
        if errors:
            distinct = list(dict.fromkeys(_without_stamp(line)[:200] for line in errors))
            found[name] = {"count": len(errors), "samples": distinct[:samples]}
    return found


def _without_stamp(line: str) -> str:
    """The line without its time prefix, so the same error logged twice counts once."""
    return STAMP.sub("", line)
