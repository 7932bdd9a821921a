"""`search_docs`: full-text search (SQLite FTS5) over the project's own documentation."""

from __future__ import annotations

import re
import sqlite3
import threading
from pathlib import Path

from pydantic import BaseModel, Field

from tool_workers.definitions import CallContext, tool

ROOT = Path(__file__).resolve().parents[2]
MAX_HITS = 5


class SearchInput(BaseModel):
    query: str = Field(min_length=1, max_length=200, description="Words to look for.")


def _sections(path: Path) -> list[tuple[str, str]]:
    """Split a markdown file into (heading, body) sections."""
    title, body, out = path.name, [], []
    for line in path.read_text(errors="replace").splitlines():
        if line.startswith("#"):
            if body:
                out.append((title, "\n".join(body).strip()))
            title, body = f"{path.name}: {line.lstrip('#').strip()}", []
        else:
            body.append(line)
    if body:
        out.append((title, "\n".join(body).strip()))
    return [(t, b) for t, b in out if b]


class DocsIndex:
    """An in-memory FTS5 index over README.md and docs/*.md, built once per process."""

    def __init__(self, root: Path = ROOT) -> None:
        self._db = sqlite3.connect(":memory:", check_same_thread=False)
        self._lock = threading.Lock()
        self._db.execute("CREATE VIRTUAL TABLE docs USING fts5(title, body)")
        files = [root / "README.md", *sorted((root / "docs").glob("*.md"))]
        rows = [s for f in files if f.exists() for s in _sections(f)]
        self._db.executemany("INSERT INTO docs VALUES (?, ?)", rows)
        self.size = len(rows)

    def search(self, query: str) -> list[tuple[str, str]]:
        terms = re.findall(r"\w+", query)
        if not terms:
            return []
        match = " OR ".join(f'"{t}"' for t in terms)
        with self._lock:
            return self._db.execute(
                "SELECT title, snippet(docs, 1, '[', ']', ' … ', 24) FROM docs "
                "WHERE docs MATCH ? ORDER BY rank LIMIT ?",
                (match, MAX_HITS),
            ).fetchall()


_index: DocsIndex | None = None


@tool(
    SearchInput,
    description=(
        "Search the agentstream documentation and return the best matching passages.\n"
        "Use when the user asks how agentstream works, how to run it or what a topic means.\n"
        "Do not use for general knowledge or for questions about other software."
    ),
    timeout_s=5.0,
)
def search_docs(args: SearchInput, ctx: CallContext) -> str:
    global _index
    if _index is None:
        _index = DocsIndex()
    hits = _index.search(args.query)
    if not hits:
        return f"no passages match {args.query!r} ({_index.size} sections searched)"
    return "\n".join(f"- {title}: {snippet}" for title, snippet in hits)
