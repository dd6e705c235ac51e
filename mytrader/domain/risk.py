"""The risk gate: every leg passes here before it reaches the broker.

Pure functions of the book, the decision's prices and the limits, so each rule is
unit-tested alone. A refusal is a recorded leg, never an exception.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal

from mytrader.config import Settings
from mytrader.domain.book import Book
from mytrader.domain.models import Decision, PendingOrder, Purpose

HUNDRED = Decimal("100")
CENT = Decimal("0.01")


@dataclass(frozen=True)
class Leg:
    """One order an account wants this cycle, before the gate."""

    symbol: str
    side: str  # "buy" | "sell"
    qty: int
    reason: str
    purpose: Purpose = "decision"


@dataclass
class Reserved:
    """What a book's open orders already commit: cash for buys (at their limit, with the
    fee), shares for sells. The gate checks a new leg against what is left."""

    cash: Decimal = Decimal("0")
    buy_qty: dict[str, int] = field(default_factory=dict)
    sell_qty: dict[str, int] = field(default_factory=dict)

    @classmethod
    def of(cls, pending: Iterable[PendingOrder], fee: Decimal) -> Reserved:
        reserved = cls()
        for p in pending:
            reserved.add(
                p.order.side,
                p.order.symbol,
                p.order.qty - p.booked_qty,
                p.order.limit_price,
                Decimal("0") if p.booked_qty else fee,
            )
        return reserved

    def add(self, side: str, symbol: str, qty: int, limit: Decimal | None, fee: Decimal) -> None:
        if qty <= 0:
            return
        if side == "buy":
            self.cash += qty * (limit or Decimal("0")) + fee
            self.buy_qty[symbol] = self.buy_qty.get(symbol, 0) + qty
        else:
            self.sell_qty[symbol] = self.sell_qty.get(symbol, 0) + qty


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
            reason = f"stop-loss: {change:.2f}% from cost"
            legs.append(Leg(sym, "sell", pos.qty, reason, "stop_loss"))
        elif settings.take_profit_pct and change >= settings.take_profit_pct:
            reason = f"take-profit: +{change:.2f}% from cost"
            legs.append(Leg(sym, "sell", pos.qty, reason, "take_profit"))
    return legs


def decision_leg(decision: Decision) -> Leg | None:
    if decision.decision == "HOLD" or not decision.symbol:
        return None
    side = "buy" if decision.decision == "BUY" else "sell"
    return Leg(decision.symbol, side, decision.quantity, "decision")


def buy_limit(price: Decimal, settings: Settings) -> Decimal:
    """BUYs go out as marketable limits so the cash check below holds at any fill."""
    return (price * (1 + settings.buy_limit_buffer_pct / HUNDRED)).quantize(CENT)


def worst_sell_price(price: Decimal, settings: Settings) -> Decimal:
    """What the gate assumes a market SELL may fetch: the last price less the buffer."""
    return (price * (1 - settings.buy_limit_buffer_pct / HUNDRED)).quantize(CENT)


def check_leg(
    leg: Leg,
    book: Book,
    prices: dict[str, Decimal],
    settings: Settings,
    *,
    market_open: bool,
    tradable: bool,
    day: str,
    reserved: Reserved | None = None,
) -> GateResult:
    """`day` is the trading day of the decision's now (ISO date); `reserved` is what the
    book's open orders (and this cycle's earlier legs) commit already."""
    reserved = reserved or Reserved()
    price = prices.get(leg.symbol)
    if not tradable or price is None:
        return GateResult(False, f"{leg.symbol} is not tradable or has no price now")
    if not market_open:
        return GateResult(False, "market closed")
    if leg.qty <= 0:
        return GateResult(False, "quantity must be positive")
    cash = book.cash - reserved.cash
    if leg.side == "sell":
        held = book.qty(leg.symbol) - reserved.sell_qty.get(leg.symbol, 0)
        if leg.qty > held:
            return GateResult(False, f"sell {leg.qty} {leg.symbol} but holds {held} free")
        proceeds = leg.qty * worst_sell_price(price, settings)
        if cash + proceeds < settings.fee_per_trade:
            return GateResult(
                False,
                f"sell {leg.qty} {leg.symbol}: proceeds (~{proceeds}) and cash ({cash:.2f}) "
                f"do not cover the {settings.fee_per_trade} fee",
            )
        return GateResult(True)
    pending_buys = reserved.buy_qty.get(leg.symbol, 0)
    return _check_buy(leg, book, cash, pending_buys, price, prices, settings, day)


def _check_buy(
    leg: Leg,
    book: Book,
    cash: Decimal,
    pending_buys: int,
    price: Decimal,
    prices: dict[str, Decimal],
    settings: Settings,
    day: str,
) -> GateResult:
    limit = buy_limit(price, settings)
    cost = leg.qty * limit + settings.fee_per_trade
    if cost > cash:
        return GateResult(
            False, f"buy {leg.qty} {leg.symbol} needs up to {cost} but free cash is {cash:.2f}"
        )
    equity = book.equity(prices)
    opening = book.opening_equity(day)
    if settings.daily_loss_limit_pct and opening:
        floor = opening * (1 - settings.daily_loss_limit_pct / HUNDRED)
        if equity < floor:
            return GateResult(False, f"daily loss limit: equity {equity:.2f} below {floor:.2f}")
    if settings.max_position_pct:
        # At the limit: the worst price the order may fill at.
        after = (book.qty(leg.symbol) + pending_buys + leg.qty) * limit
        cap = equity * settings.max_position_pct / HUNDRED
        if after > cap:
            return GateResult(
                False, f"position cap: {leg.symbol} would be {after:.2f} > {cap:.2f} of equity"
            )
    return GateResult(True, limit_price=limit)
