"""The range every numeric setting means something in, and the check of a value against
it (`Settings` applies it to every field named in BOUNDS)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal

from mytrader.domain.money import CENT
from mytrader.domain.warmup import MIN_WARMUP

# Cash a book may start with: beyond it, sums of shares x prices leave exact arithmetic
# (and 1,000,000,000 shares, the largest order, of a $1 stock is as much).
MAX_STARTING_CASH = Decimal("1000000000")


@dataclass(frozen=True, slots=True)
class Bounds:
    """The range a numeric setting means something in; `below`: high itself is out."""

    low: Decimal | int | float
    high: Decimal | int | float
    meaning: str
    above: bool = False  # low itself is out
    below: bool = False
    cents: bool = False  # money: whole cents

    def problem(self, v: Decimal | int | float) -> str | None:
        finite = v.is_finite() if isinstance(v, Decimal) else math.isfinite(v)
        if not finite:  # NaN, infinity
            return f"must be a finite number ({self.meaning})"
        out_low = v <= self.low if self.above else v < self.low
        out_high = v >= self.high if self.below else v > self.high
        if out_low or out_high:
            lo, hi = "(" if self.above else "[", ")" if self.below else "]"
            return f"must be in {lo}{self.low}, {self.high}{hi} ({self.meaning})"
        if self.cents and isinstance(v, Decimal) and v != v.quantize(CENT):
            return f"must be whole cents ({self.meaning})"
        return None


_PERCENT_OF_EQUITY = "% of the book's equity; 0 disables"
BOUNDS: dict[str, Bounds] = {
    "starting_cash": Bounds(0, MAX_STARTING_CASH, "dollars per book", above=True, cents=True),
    "fee_per_trade": Bounds(0, 1000, "dollars per filled order", cents=True),
    "llm_daily_budget_usd": Bounds(0, 1_000_000, "dollars per agent per day"),
    "llm_temperature": Bounds(0.0, 2.0, "the models' sampling temperature"),
    "llm_timeout_s": Bounds(0.0, 3600.0, "seconds per model call", above=True),
    "llm_max_retries": Bounds(0, 10, "retries per model call"),
    "max_tool_rounds": Bounds(1, 50, "tool-call rounds per turn"),
    "critique_interval": Bounds(1, 10_000, "trades between critiques"),
    "warmup_days": Bounds(MIN_WARMUP, 10_000, "trading days of history; MACD needs 35 bars"),
    "movers_top": Bounds(1, 50, "symbols per movers list"),
    "max_position_pct": Bounds(0, 100, _PERCENT_OF_EQUITY),
    "daily_loss_limit_pct": Bounds(0, 100, "% of the day's opening equity; 0 disables"),
    "stop_loss_pct": Bounds(
        0, 100, "% below the average cost: 100 would put the stop at $0; 0 disables", below=True
    ),
    "take_profit_pct": Bounds(0, 1000, "% above the average cost; 0 disables"),
    "buy_limit_buffer_pct": Bounds(
        0, 100, "% above (BUY) or below (SELL) the last price", below=True
    ),
    "vote_window": Bounds(2, 10_000, "cycles of trailing return"),
    "vote_edge_pct": Bounds(0, 100, "points of trailing return"),
    "alpaca_timeout_s": Bounds(0.0, 300.0, "seconds per Alpaca request", above=True),
    "alpaca_requests_per_min": Bounds(1, 10_000, "Alpaca's request budget per minute"),
    "alpaca_scan_chunk": Bounds(1, 10_000, "symbols per snapshot request"),
    "fill_wait_s": Bounds(0.0, 60.0, "seconds a cycle waits for a BUY's fill (live)"),
}


def check_bounds(field: str, v: Decimal | int | float | None) -> object:
    """`v` if within BOUNDS[field] (None passes), else ValueError saying the range."""
    problem = None if v is None else BOUNDS[field].problem(v)
    if problem:
        raise ValueError(problem)
    return v
