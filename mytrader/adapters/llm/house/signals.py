"""Reading the prompt's facts: the numbers of a decision payload the persona rules look at,
and the signal a rule gives when it fires on a symbol."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

Json = dict[str, Any]


def number(value: Any) -> float | None:
    """A number from the payload (Decimals arrive as strings); None when absent or junk."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return float(value)
    try:
        return float(Decimal(str(value)))
    except (InvalidOperation, ValueError):
        return None


@dataclass(frozen=True)
class Holding:
    symbol: str
    qty: int
    unrealized_pct: float


@dataclass(frozen=True)
class Facts:
    """The parts of a decision payload the rules look at."""

    symbols: dict[str, Json]  # market.symbols
    holdings: list[Holding]
    max_qty: dict[str, int]
    losers: frozenset[str]

    @classmethod
    def of(cls, payload: Json) -> Facts:
        market = payload.get("market") or {}
        positions = (payload.get("book") or {}).get("positions") or {}
        holdings = [
            Holding(sym, int(pos.get("qty", 0)), number(pos.get("unrealized_pct")) or 0.0)
            for sym, pos in sorted(positions.items())
            if int(pos.get("qty", 0)) > 0
        ]
        movers = market.get("movers") or {}
        losers = frozenset(m.get("symbol", "") for m in movers.get("losers", []))
        max_qty = {sym: int(q) for sym, q in (payload.get("max_buy_qty") or {}).items()}
        return cls(market.get("symbols") or {}, holdings, max_qty, losers)

    def held(self, symbol: str) -> bool:
        return any(h.symbol == symbol for h in self.holdings)


def numbers(sv: Json, *keys: str) -> list[float] | None:
    """All of `keys` as numbers, or None when one is missing (a rule needs them all)."""
    values = [number(sv.get(k)) for k in keys]
    return None if None in values else [v for v in values if v is not None]


def in_sectors(sv: Json, sectors: frozenset[str]) -> bool:
    # Exact names, not substrings: "biotech" must not pass for "tech".
    return str(sv.get("sector", "")).strip().lower() in sectors


@dataclass(frozen=True)
class Signal:
    """A rule that fired on one symbol: how strongly (confidence) and why."""

    symbol: str
    confidence: int
    reason: str


def clamp_confidence(raw: float) -> int:
    return max(0, min(95, round(raw)))
