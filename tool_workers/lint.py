"""`agentstream tools lint`: check three-line descriptions and report definition token cost."""

from __future__ import annotations

import argparse
import json
import math
import re

from config.settings import CHARS_PER_TOKEN
from tool_workers.definitions import ToolDef, load

USE_LINE = re.compile(r"^use\b", re.IGNORECASE)
AVOID_LINE = re.compile(r"^(do not|don't|never) use\b", re.IGNORECASE)


def description_problems(tool: ToolDef) -> list[str]:
    """What is missing from purpose / when to use / when not to use."""
    lines = [line.strip() for line in tool.description.splitlines() if line.strip()]
    if len(lines) != 3:
        return [f"has {len(lines)} lines; want 3: purpose, when to use, when not to use"]
    problems = []
    if USE_LINE.match(lines[0]) or AVOID_LINE.match(lines[0]):
        problems.append("line 1 should state the purpose")
    if not USE_LINE.match(lines[1]):
        problems.append("line 2 should start with 'Use when/for ...'")
    if not AVOID_LINE.match(lines[2]):
        problems.append("line 3 should start with 'Do not use ...'")
    return problems


def definition_tokens(tool: ToolDef) -> int:
    """Input tokens this tool's definition adds to every model call (estimated from its size)."""
    size = len(json.dumps(tool.spec().definition(), separators=(",", ":")))
    return math.ceil(size / CHARS_PER_TOKEN)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="agentstream tools")
    parser.add_argument("action", choices=["lint", "list"])
    parser.add_argument("--module", action="append", default=[])
    args = parser.parse_args(argv)
    tools = load(args.module)
    failures, total = 0, 0
    for name in sorted(tools):
        tool = tools[name]
        tokens = definition_tokens(tool)
        total += tokens
        problems = description_problems(tool) if args.action == "lint" else []
        failures += bool(problems)
        mark = "FAIL" if problems else "ok"
        print(
            f"{mark:4} {name:16} ~{tokens:4d} input tokens  "
            f"(timeout {tool.timeout_s:g}s{', ordered' if tool.ordered else ''})"
        )
        for problem in problems:
            print(f"       - {problem}")
    print(f"all {len(tools)} definitions together: ~{total} input tokens per model call")
    return 1 if failures else 0
