"""Structured output: one forced tool whose input schema is the requested output schema.

The model "answers" by calling this tool; its input, once valid against the schema,
becomes the response's `output`.
"""

from __future__ import annotations

from typing import Any

OUTPUT_TOOL = "structured_output"
OUTPUT_TOOL_DESCRIPTION = (
    "Return the final answer as one object matching the required schema.\n"
    "Use once you have everything needed to answer the request.\n"
    "Do not use to ask questions or to report partial progress."
)


def output_tool(schema: dict[str, Any]) -> dict[str, Any]:
    """The tool definition sent to the model next to the request's own tools."""
    return {"name": OUTPUT_TOOL, "description": OUTPUT_TOOL_DESCRIPTION, "input_schema": schema}
