"""`clock`: the current date and time in a time zone."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, Field

from tool_workers.definitions import CallContext, tool
from tool_workers.errors import InvalidToolInput


class ClockInput(BaseModel):
    timezone: str = Field(default="UTC", description="IANA zone name, e.g. 'Europe/Paris'.")


@tool(
    ClockInput,
    description=(
        "Return the current date and time in a given IANA time zone.\n"
        "Use when the user asks what time or date it is now, anywhere.\n"
        "Do not use for arithmetic on dates or for historical times."
    ),
    timeout_s=2.0,
)
def clock(args: ClockInput, ctx: CallContext) -> str:
    zone_name = args.timezone.strip() or "UTC"
    try:
        zone = ZoneInfo(zone_name) if zone_name.upper() != "UTC" else UTC
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise InvalidToolInput(f"unknown time zone {zone_name!r}; use an IANA name") from exc
    return datetime.now(zone).isoformat(timespec="seconds")
