"""Small builders shared by the tests."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from mytrader.config import Settings
from mytrader.state import Decision, MarketView, Movers, SymbolView


def make_settings(**overrides: Any) -> Settings:
    """Settings that ignore the developer's .env (the environment is cleaned by conftest)."""
    return Settings(_env_file=None, **overrides)  # type: ignore[call-arg]


def decision(action: str, symbol: str | None = None, qty: int = 0, conf: int = 50) -> Decision:
    return Decision(decision=action, symbol=symbol, quantity=qty, confidence=conf)  # type: ignore[arg-type]


def view(prices: dict[str, str], as_of: str = "2024-01-02") -> MarketView:
    return MarketView(
        as_of=as_of,
        movers=Movers(),
        symbols={
            s: SymbolView(symbol=s, price=Decimal(p), change_pct=0.0, volume=1000)
            for s, p in prices.items()
        },
    )
