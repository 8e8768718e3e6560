"""Training cost: tokens × epochs × unit price (OVERVIEW-ZH: "训练数据 tokens × 循环次数 × 单价")."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Estimate:
    tokens: int
    epochs: int
    unit_price_per_1k: float
    currency: str
    is_example_price: bool
    model: str

    @property
    def billed_tokens(self) -> int:
        return self.tokens * self.epochs

    @property
    def cost(self) -> float:
        return self.billed_tokens / 1000 * self.unit_price_per_1k

    @property
    def formula(self) -> str:
        note = " (documented example price — set pricing.models in the config)" if self.is_example_price else ""
        return (f"{self.tokens:,} tokens × {self.epochs} epochs × {self.unit_price_per_1k:g} {self.currency}/1K tokens"
                f" = {self.cost:,.4f} {self.currency}{note}")

    def as_dict(self) -> dict:
        return {"model": self.model, "tokens": self.tokens, "epochs": self.epochs,
                "billed_tokens": self.billed_tokens, "unit_price_per_1k": self.unit_price_per_1k,
                "currency": self.currency, "cost": round(self.cost, 6), "example_price": self.is_example_price,
                "formula": self.formula}


def estimate(tokens: int, epochs: int, model: str, settings) -> Estimate:
    price, example = settings.unit_price(model)
    return Estimate(tokens, epochs, price, settings.get("pricing.currency"), example, model)
