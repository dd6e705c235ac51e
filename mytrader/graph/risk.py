"""The risk gate: every leg passes here before it reaches the broker.

Pure functions of the book, the decision's prices and the limits, so each rule is
unit-tested alone. A refusal is a recorded leg, never an exception.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from mytrader.config import Settings
from mytrader.state import Book, Decision

HUNDRED = Decimal("100")
CENT = Decimal("0.01")


@dataclass(frozen=True)
class Leg:
    """One order an account wants this cycle, before the gate."""

    symbol: str
    side: str  # "buy" | "sell"
    qty: int
    reason: str


@dataclass(frozen=True)
class GateResult:
    approved: bool
    reason: str = ""
    limit_price: Decimal | None = None


def exit_legs(book: Book, prices: dict[str, Decimal], settings: Settings) -> list[Leg]:
    """Stop-loss and take-profit: whole-position sells, in symbol order."""
    legs = []
    for sym in sorted(book.positions):
        pos, price = book.positions[sym], prices.get(sym)
        if price is None or pos.qty <= 0:
            continue
        change = (price - pos.avg_cost) / pos.avg_cost * HUNDRED
        if settings.stop_loss_pct and change <= -settings.stop_loss_pct:
            legs.append(Leg(sym, "sell", pos.qty, f"stop-loss: {change:.2f}% from cost"))
        elif settings.take_profit_pct and change >= settings.take_profit_pct:
            legs.append(Leg(sym, "sell", pos.qty, f"take-profit: +{change:.2f}% from cost"))
    return legs


def decision_leg(decision: Decision) -> Leg | None:
    if decision.decision == "HOLD" or not decision.symbol:
        return None
    side = "buy" if decision.decision == "BUY" else "sell"
    return Leg(decision.symbol, side, decision.quantity, "decision")


def buy_limit(price: Decimal, settings: Settings) -> Decimal:
    """BUYs go out as marketable limits so the cash check below holds at any fill."""
    return (price * (1 + settings.buy_limit_buffer_pct / HUNDRED)).quantize(CENT)


def check_leg(
    leg: Leg,
    book: Book,
    prices: dict[str, Decimal],
    settings: Settings,
    *,
    market_open: bool,
    tradable: bool,
    day: str,
) -> GateResult:
    """`day` is the trading day of the decision's now (ISO date)."""
    price = prices.get(leg.symbol)
    if not tradable or price is None:
        return GateResult(False, f"{leg.symbol} is not tradable or has no price now")
    if not market_open:
        return GateResult(False, "market closed")
    if leg.qty <= 0:
        return GateResult(False, "quantity must be positive")
    if leg.side == "sell":
        held = book.qty(leg.symbol)
        if leg.qty > held:
            return GateResult(False, f"sell {leg.qty} {leg.symbol} but holds {held}")
        return GateResult(True)
    return _check_buy(leg, book, price, prices, settings, day)


def _check_buy(
    leg: Leg,
    book: Book,
    price: Decimal,
    prices: dict[str, Decimal],
    settings: Settings,
    day: str,
) -> GateResult:
    limit = buy_limit(price, settings)
    cost = leg.qty * limit + settings.fee_per_trade
    if cost > book.cash:
        return GateResult(
            False, f"buy {leg.qty} {leg.symbol} needs up to {cost} but cash is {book.cash:.2f}"
        )
    equity = book.equity(prices)
    opening = book.opening_equity(day)
    if settings.daily_loss_limit_pct and opening:
        floor = opening * (1 - settings.daily_loss_limit_pct / HUNDRED)
        if equity < floor:
            return GateResult(False, f"daily loss limit: equity {equity:.2f} below {floor:.2f}")
    if settings.max_position_pct:
        after = (book.qty(leg.symbol) + leg.qty) * price
        cap = equity * settings.max_position_pct / HUNDRED
        if after > cap:
            return GateResult(
                False, f"position cap: {leg.symbol} would be {after:.2f} > {cap:.2f} of equity"
            )
    return GateResult(True, limit_price=limit)
