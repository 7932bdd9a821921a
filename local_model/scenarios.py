"""Scenario files: exact scripts of a conversation's assistant turns, looked up by name."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from local_model.errors import ApiError

BUILTIN_DIR = Path(__file__).parent / "scenarios"


class Failure(BaseModel):
    """Answer the first `times` attempts at a turn with HTTP `status`."""

    model_config = ConfigDict(extra="forbid")

    status: int = Field(ge=400, le=599)
    times: int = Field(default=1, ge=0)


class Turn(BaseModel):
    """One scripted assistant reply; `content=None` or `policy=True` defers to the policy."""

    model_config = ConfigDict(extra="forbid")

    content: list[dict[str, Any]] | None = None
    stop_reason: str = "end_turn"
    stop_sequence: str | None = None
    usage: dict[str, int] | None = None
    delay_s: float = Field(default=0.0, ge=0.0)
    fail: Failure | None = None
    policy: bool = False


class Scenario(BaseModel):
    """A named script; `repeat_last` replays the final turn for every later index."""

    model_config = ConfigDict(extra="forbid")

    name: str
    turns: list[Turn] = Field(default_factory=list)
    repeat_last: bool = False

    def turn(self, index: int) -> Turn | None:
        """The turn scripted for the given number of earlier assistant turns, if any."""
        if index < len(self.turns):
            return self.turns[index]
        if self.repeat_last and self.turns:
            return self.turns[-1]
        return None


class ScenarioLibrary:
    """Finds scenarios in the built-in directory, then in each configured one."""

    def __init__(self, extra_dirs: list[Path]) -> None:
        self.dirs = [BUILTIN_DIR, *extra_dirs]
        self._cache: dict[Path, tuple[int, int, Scenario]] = {}

    def names(self) -> list[str]:
        """Every scenario name available, sorted."""
        found = {
            path.stem for folder in self.dirs if folder.is_dir() for path in folder.glob("*.json")
        }
        return sorted(found)

    def find(self, name: str) -> Scenario | None:
        """The scenario called `name` (first directory wins), or None."""
        for folder in self.dirs:
            path = folder / f"{name}.json"
            if path.is_file():
                return self._load(path)
        return None

    def require(self, name: str) -> Scenario:
        """The scenario called `name`, or the 400 the client gets for an unknown one."""
        scenario = self.find(name)
        if scenario is None:
            known = ", ".join(self.names()) or "none"
            raise ApiError(400, f"unknown scenario '{name}'; known scenarios: {known}")
        return scenario

    def _load(self, path: Path) -> Scenario:
        """Parse a scenario file, re-reading it only when it changed on disk."""
        stat = path.stat()
        cached = self._cache.get(path)
        if cached and cached[:2] == (stat.st_mtime_ns, stat.st_size):
            return cached[2]
        try:
            scenario = Scenario.model_validate(json.loads(path.read_text(encoding="utf-8")))
        except (ValueError, ValidationError) as exc:
            raise ApiError(400, f"scenario file {path.name} is invalid: {exc}") from exc
        self._cache[path] = (stat.st_mtime_ns, stat.st_size, scenario)
        return scenario
