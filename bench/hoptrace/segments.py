"""Cut each traced tool hop into the steps between its marks (`bench.hoptrace.recorder`).

A tool hop runs from the orchestrator starting to apply the model result that asked for
the tool (`apply ModelResult`) to its starting to apply the tool's result (`apply
ToolResult` of the same conversation), as the hop phase measures it. In between, in
order, each step ending at the first matching mark after the previous one:

    dispatch                the step up to the ToolCall handed to the producer
    orchestrator_to_socket  the produce request carrying it written
    broker_to_worker        the worker's fetch response read
    worker_fetch            the worker starting the call
    worker_call             the call run and its result's produce request written
    broker_to_orchestrator  the orchestrator's fetch response read
    orchestrator_fetch      faust's consumer handing the record on
    to_apply                the agent starting to apply it

A hop whose marks are not all there (a process's marks not yet written, a redelivery)
is left out.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

STEPS = (
    "dispatch",
    "orchestrator_to_socket",
    "broker_to_worker",
    "worker_fetch",
    "worker_call",
    "broker_to_orchestrator",
    "orchestrator_fetch",
    "to_apply",
)
LOOKAHEAD = 400
"""Marks searched for the next step: far more than one hop leaves on a quiet platform."""


@dataclass(frozen=True)
class Mark:
    ns: int
    process: str
    kind: str
    detail: str


def role(command_line: str) -> str:
    """orchestrator, model-worker, tool-worker or other, from a process's command line."""
    if "orchestrator" in command_line:
        return "orchestrator"
    if "model-worker" in command_line:
        return "model-worker"
    if " worker " in f" {command_line} ":
        return "tool-worker"
    return "other"


def parse(lines: Iterable[str]) -> list[Mark]:
    """The marks of one trace file (several `# <command line>` headers, one process)."""
    marks, process = [], "other"
    for line in lines:
        if line.startswith("#"):
            process = role(line[1:].strip())
            continue
        ns, _, rest = line.rstrip("\n").partition(" ")
        kind, _, detail = rest.partition(" ")
        marks.append(Mark(int(ns), process, kind, detail))
    return marks


def read(directory: Path) -> list[Mark]:
    """Every process's marks, in time order."""
    marks: list[Mark] = []
    for path in directory.glob("trace-*.txt"):
        marks += parse(path.read_text().splitlines())
    return sorted(marks, key=lambda m: m.ns)


def hop_steps(marks: list[Mark], tool: str, prefix: str = "") -> dict[str, list[float]]:
    """Seconds of each step (and of the whole `hop`) for every complete tool hop of the
    conversations whose id starts with `prefix`."""
    calls = f"{tool}.calls"

    def orchestrator(kind: str, detail: Callable[[str], bool]) -> Callable[[Mark], bool]:
        return lambda m: m.process == "orchestrator" and m.kind == kind and detail(m.detail)

    def worker(kind: str, detail: str) -> Callable[[Mark], bool]:
        return lambda m: m.process == "tool-worker" and m.kind == kind and m.detail == detail

    steps: dict[str, list[float]] = {name: [] for name in (*STEPS, "hop")}
    for start, first in enumerate(marks):
        if not (first.process == "orchestrator" and first.kind == "apply"):
            continue
        event, _, rest = first.detail.partition(" ")
        if event != "ModelResult":
            continue
        conversation = rest.split(" ")[0]
        if not conversation.startswith(prefix):
            continue
        wanted = [
            orchestrator("send", lambda d: d == calls),
            orchestrator("request", lambda d: d == "Produce"),
            worker("response", "Fetch"),
            worker("process", calls),
            worker("request", "Produce"),
            orchestrator("response", lambda d: d == "Fetch"),
            orchestrator("yield", lambda d: d.split(" ")[0].endswith("steps")),
            orchestrator("apply", lambda d, c=conversation: d.startswith(f"ToolResult {c} ")),
        ]
        found = _in_order(marks, start, wanted)
        if found is None or _applied_before(marks, start, found[0]):
            continue
        times = [first.ns] + [marks[i].ns for i in found]
        for name, (a, b) in zip(STEPS, itertools.pairwise(times), strict=True):
            steps[name].append((b - a) / 1e9)
        steps["hop"].append((times[-1] - times[0]) / 1e9)
    return steps


def _in_order(
    marks: list[Mark], start: int, wanted: list[Callable[[Mark], bool]]
) -> list[int] | None:
    """Indexes of the first mark matching each predicate in turn, after `start`."""
    found, at = [], start
    for matches in wanted:
        at = next(
            (i for i in range(at + 1, min(at + 1 + LOOKAHEAD, len(marks))) if matches(marks[i])),
            -1,
        )
        if at < 0:
            return None
        found.append(at)
    return found


def _applied_before(marks: list[Mark], start: int, end: int) -> bool:
    """Whether the orchestrator began another event before this one sent its ToolCall (the
    model result did not ask for the tool: the send belongs to a later event)."""
    return any(m.process == "orchestrator" and m.kind == "apply" for m in marks[start + 1 : end])
