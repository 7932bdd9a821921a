"""USD cost of a model call: genai-prices' maintained data, overridable from a TOML file."""

from __future__ import annotations

import logging
import tomllib
from functools import lru_cache
from pathlib import Path

from genai_prices import Usage as PriceUsage
from genai_prices import calc_price
from pydantic import BaseModel

from topics.messages import Usage

log = logging.getLogger(__name__)
DEFAULT_PRICES_FILE = Path(__file__).with_name("prices.toml")
PER_MTOK = 1_000_000


class ModelPrice(BaseModel):
    """An operator's price for one model, USD per million tokens."""

    input_mtok: float
    output_mtok: float
    cache_write_mtok: float
    cache_write_1h_mtok: float | None = None
    cache_read_mtok: float

    def cost(self, usage: Usage) -> float:
        return (
            usage.input_tokens * self.input_mtok
            + usage.output_tokens * self.output_mtok
            + usage.cache_creation_input_tokens * self.cache_write_mtok
            + usage.cache_read_input_tokens * self.cache_read_mtok
        ) / PER_MTOK


class Pricing:
    """Prices calls by model: file overrides first, then genai-prices, else zero (warned)."""

    def __init__(self, overrides: dict[str, ModelPrice]) -> None:
        self.overrides = overrides

    @classmethod
    def load(cls, path: str | Path | None = None) -> Pricing:
        file = Path(path) if path else DEFAULT_PRICES_FILE
        if not file.exists():
            return cls({})
        data = tomllib.loads(file.read_text())
        return cls(
            {name: ModelPrice.model_validate(v) for name, v in data.get("models", {}).items()}
        )

    def cost_usd(self, model: str, usage: Usage) -> float:
        if model in self.overrides:
            return self.overrides[model].cost(usage)
        return _catalogue_cost(
            model,
            usage.input_tokens,
            usage.output_tokens,
            usage.cache_creation_input_tokens,
            usage.cache_read_input_tokens,
        )


@lru_cache(maxsize=4096)
def _catalogue_cost(
    model: str, input_tokens: int, output_tokens: int, cache_write: int, cache_read: int
) -> float:
    # genai-prices counts cached tokens inside input_tokens; Anthropic's usage does not.
    usage = PriceUsage(
        input_tokens=input_tokens + cache_write + cache_read,
        output_tokens=output_tokens,
        cache_write_tokens=cache_write,
        cache_read_tokens=cache_read,
    )
    try:
        return float(calc_price(usage, model_ref=model, provider_id="anthropic").total_price)
    except LookupError:
        log.warning("No price known for model %r; counting its cost as 0.", model)
        return 0.0
