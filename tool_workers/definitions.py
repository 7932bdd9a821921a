"""`@tool`: register a function with a pydantic input model as a platform tool."""

from __future__ import annotations

import functools
import importlib
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from topics.messages import ToolSpec

DEFAULT_TIMEOUT_S = 30.0
BUILTIN_MODULE = "tool_workers.examples"


@dataclass(frozen=True)
class CallContext:
    """What a tool function may know about its call; `tool_use_id` is its idempotency key."""

    tool_use_id: str
    conversation_id: str
    deadline_at: float
    attempt: int


@dataclass(frozen=True)
class ToolDef:
    """A registered tool: its spec for the registry and the function that runs it."""

    name: str
    description: str
    input_model: type[BaseModel]
    fn: Callable[..., Any]
    timeout_s: float
    ordered: bool
    idempotent: bool = True
    """False: a call id is executed at most once, even when the call is delivered again."""

    @functools.cached_property
    def is_async(self) -> bool:
        return inspect.iscoroutinefunction(self.fn)

    def spec(self) -> ToolSpec:
        schema = self.input_model.model_json_schema()
        schema.pop("title", None)
        return ToolSpec(
            name=self.name,
            description=self.description,
            input_schema=schema,
            timeout_s=self.timeout_s,
            ordered=self.ordered,
        )


TOOLS: dict[str, ToolDef] = {}


def tool(
    input_model: type[BaseModel],
    *,
    description: str,
    name: str | None = None,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    ordered: bool = False,
    idempotent: bool = True,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register `fn(args, ctx)`; `ordered=True` makes its calls run one at a time, in order.

    `idempotent=False` declares that running a call twice is harmful: workers then keep a
    journal per call id, re-send a result already produced and never start a call twice.

    The description follows three lines: purpose, when to use, when not to use.
    """

    def register(fn: Callable[..., Any]) -> Callable[..., Any]:
        tool_name = name or fn.__name__
        if tool_name in TOOLS and TOOLS[tool_name].fn is not fn:
            raise ValueError(f"tool {tool_name!r} is already registered")
        TOOLS[tool_name] = ToolDef(
            tool_name, description.strip(), input_model, fn, timeout_s, ordered, idempotent
        )
        return fn

    return register


def load(modules: list[str]) -> dict[str, ToolDef]:
    """Import the built-in tools plus `modules`, returning everything registered."""
    for module in [BUILTIN_MODULE, *modules]:
        importlib.import_module(module)
    return TOOLS
