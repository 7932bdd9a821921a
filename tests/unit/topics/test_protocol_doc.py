"""docs/protocol.md documents every field of every wire message and every topic."""

from __future__ import annotations

import json
import re
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from topics import messages
from topics.messages import (
    AgentEvent,
    AgentRequest,
    AgentResponse,
    CallJournalEntry,
    DeadLetter,
    DeliveryFailure,
    Message,
    ModelCall,
    ModelResult,
    Step,
    Tick,
    ToolCall,
    ToolResult,
    ToolSpec,
    Usage,
)
from topics.names import Topics

PROTOCOL = Path(__file__).resolve().parents[3] / "docs" / "protocol.md"

DESCRIBED_IN_PROSE = frozenset({"schema_version"})
"""Fields every message has, documented once in the intro paragraph rather than in each
message's table (the AgentResponse example shows it anyway)."""

TOOL_PLACEHOLDER = "<name>"
"""How the Topics table spells the tool name in per-tool topics."""


def _doc() -> str:
    """The text of docs/protocol.md."""
    return PROTOCOL.read_text(encoding="utf-8")


def _section(heading: str) -> str:
    """The body of the `## ` section whose title starts with `heading`, up to the next one."""
    sections = re.split(r"^## ", _doc(), flags=re.MULTILINE)
    found = [s for s in sections if s.startswith(heading)]
    assert len(found) == 1, f"expected one '## {heading}' section, found {len(found)}"
    return found[0]


def _code_spans(text: str) -> list[str]:
    """The contents of the `inline code` spans in `text`."""
    return re.findall(r"`([^`]+)`", text)


def _table(section: str, first_header: str) -> list[list[str]]:
    """The body rows (as cells) of the one Markdown table in `section` with that first header."""
    tables: list[list[list[str]]] = []
    rows: list[list[str]] | None = None
    for line in section.splitlines():
        if not line.startswith("|"):
            rows = None
            continue
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", line.strip())[1:-1]]
        if rows is None:
            rows = []
            if cells[0] == first_header:
                tables.append(rows)
        elif not all(re.fullmatch(r":?-+:?", c) for c in cells):
            rows.append(cells)
    assert len(tables) == 1, f"expected one table headed {first_header!r}, found {len(tables)}"
    return tables[0]


def _field_table(heading: str) -> set[str]:
    """Every field named in the first column of the section's `| field |` table."""
    rows = _table(_section(heading), "field")
    return {name for row in rows for name in _code_spans(row[0])}


def _json_example(heading: str) -> dict[str, Any]:
    """The section's first ```json example, decoded."""
    match = re.search(r"```json\n(.*?)\n```", _section(heading), flags=re.DOTALL)
    assert match, f"no JSON example in '## {heading}'"
    example: dict[str, Any] = json.loads(match.group(1))
    return example


def _fields_sentence(heading: str) -> set[str]:
    """The fields listed in the section's "Fields: `a`, `b`, ..." sentence."""
    match = re.search(r"Fields:(.*?)\.(?:\s|$)", _section(heading), flags=re.DOTALL)
    assert match, f"no 'Fields:' sentence in '## {heading}'"
    return set(_code_spans(match.group(1)))


def _brace_list(model: type[Message]) -> set[str]:
    """The fields in the `{a, b: "x", ...}` list after **Model** in the internal messages."""
    section = _section("Internal messages")
    start = section.find(f"**{model.__name__}**")
    assert start >= 0, f"**{model.__name__}** is not described in '## Internal messages'"
    match = re.compile(r"\{([^{}]*)\}").search(section, start)
    assert match, f"no {{field, ...}} list after **{model.__name__}**"
    names = {item.split(":")[0].strip() for item in match.group(1).split(",")}
    bad = sorted(n for n in names if not n.isidentifier())
    assert not bad, f"unreadable entries in the list of {model.__name__}: {bad}"
    return names


DOCUMENTED: dict[type[Message], Callable[[], set[str]]] = {
    AgentRequest: lambda: _field_table("AgentRequest"),
    AgentResponse: lambda: set(_json_example("AgentResponse")),
    AgentEvent: lambda: _fields_sentence("Progress: AgentEvent"),
    **{
        model: (lambda model=model: _brace_list(model))
        for model in (
            ModelCall,
            ModelResult,
            ToolCall,
            ToolResult,
            CallJournalEntry,
            ToolSpec,
            Tick,
            DeliveryFailure,
            DeadLetter,
        )
    },
}
"""Each wire message and how protocol.md lists its fields."""


def _wire_messages() -> set[type[Message]]:
    """Every message model defined in topics/messages.py."""
    return {
        value
        for value in vars(messages).values()
        if isinstance(value, type) and issubclass(value, Message) and value is not Message
    }


def test_every_wire_message_is_documented() -> None:
    assert _wire_messages() == set(DOCUMENTED)


@pytest.mark.parametrize("model", list(DOCUMENTED), ids=lambda m: m.__name__)
def test_fields_match_the_model(model: type[Message]) -> None:
    documented = DOCUMENTED[model]()
    fields = set(model.model_fields)
    assert sorted(fields - documented - DESCRIBED_IN_PROSE) == [], "undocumented fields"
    assert sorted(documented - fields) == [], "documented fields the model lacks"


def test_prose_allow_list_is_described_in_the_intro() -> None:
    intro = _doc().split("\n## ", 1)[0]
    assert all(f"`{name}`" in intro for name in DESCRIBED_IN_PROSE)
    assert all(name in Message.model_fields for name in DESCRIBED_IN_PROSE)


def test_examples_use_only_model_fields() -> None:
    request = _json_example("AgentRequest")
    AgentRequest.model_validate(request)
    assert set(request) <= set(AgentRequest.model_fields)
    response = _json_example("AgentResponse")
    AgentResponse.model_validate(response)
    assert set(response["usage"]) == set(Usage.model_fields)


def _topics_table() -> dict[str, list[str]]:
    """Topics table rows by topic name (placeholders as written)."""
    rows = _table(_section("Topics"), "topic")
    return {_code_spans(row[0])[0]: row for row in rows}


def test_topics_table_matches_names() -> None:
    topics = Topics()
    specs = [
        *topics.core(),
        topics.tool_calls("TOOL"),
        topics.tool_journal("TOOL"),
        topics.tool_registry("TOOL"),
    ]
    expected = {s.name.replace("TOOL", TOOL_PLACEHOLDER): s.partitions for s in specs}
    documented = {name: int(row[2]) for name, row in _topics_table().items()}
    assert documented == expected


def test_topics_table_names_real_messages() -> None:
    names = {m.__name__ for m in _wire_messages()}
    for topic, row in _topics_table().items():
        mentioned = set(re.findall(r"\b[A-Z][A-Za-z]+\b", row[4]))
        assert mentioned, f"{topic}: no message named"
        assert mentioned <= names, f"{topic}: {sorted(mentioned - names)} are not messages"


def test_steps_row_lists_every_step() -> None:
    union = typing.get_args(Step)[0]
    steps = {m.__name__ for m in typing.get_args(union)}
    row = _topics_table()[Topics().agent_steps.name]
    assert set(re.findall(r"\b[A-Z][A-Za-z]+\b", row[4])) == steps
