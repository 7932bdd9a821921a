"""Settings of the local Messages API server, fixed for the lifetime of one app."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator


class ModelServerConfig(BaseModel):
    """Knobs that make the local model slow, flaky, scripted or a recording proxy."""

    model_config = ConfigDict(frozen=True)

    scenario_dirs: list[Path] = Field(default_factory=list)
    """Extra directories searched for `<name>.json` scenarios, after the built-in ones."""
    latency_s: float = Field(default=0.0, ge=0.0)
    """Delay added before every Messages API response."""
    fault_rate: float = Field(default=0.0, ge=0.0, le=1.0)
    """Fraction of requests answered with one of `fault_statuses` instead of a message."""
    fault_statuses: list[int] = Field(default_factory=lambda: [529], min_length=1)
    seed: int = 0
    """Seeds the fault sequence, so a run's faults repeat exactly."""
    record_dir: Path | None = None
    """Where forwarded exchanges are saved as scenarios (needs `upstream_url`)."""
    upstream_url: str | None = None
    """A real Messages API base URL; when set every request is forwarded there."""
    model_name: str = "claude-sonnet-4-5"
    """Model reported when a request names none; otherwise the request's model is echoed."""

    @field_validator("fault_statuses")
    @classmethod
    def _http_error_statuses(cls, statuses: list[int]) -> list[int]:
        """Only 4xx/5xx make sense as injected faults."""
        bad = [status for status in statuses if not 400 <= status <= 599]
        if bad:
            raise ValueError(f"fault_statuses must be HTTP error codes (400-599), got {bad}")
        return statuses
