"""The risk gate: every leg passes here before it reaches the broker.

Pure functions of the book, the decision's prices and the limits, so each rule is
unit-tested alone. A refusal is a recorded leg, never an exception.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import ROUND_FLOOR, Decimal

from mytrader.domain.book import Book
from mytrader.domain.limits import RiskLimits
from mytrader.domain.models import Decision, PendingOrder, Purpose
from mytrader.domain.money import HUNDRED, ZERO


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

    cash: Decimal = ZERO
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


def exit_legs(book: Book, prices: dict[str, Decimal], limits: RiskLimits) -> list[Leg]:
    """Stop-loss and take-profit: whole-position sells, in symbol order. A position exits
    when its price reaches a level rounded to the cent (`ProtectionRule`), the same rule
    the protective orders at the broker carry."""
    legs = []
    rule = limits.protection
    for sym in sorted(book.positions):
        pos, price = book.positions[sym], prices.get(sym)
        if price is None or pos.qty <= 0:
            continue
        purpose = rule.trigger(pos.avg_cost, price)
        if purpose is None:
            continue
        change = (price - pos.avg_cost) / pos.avg_cost * HUNDRED
        if purpose == "stop_loss":
            reason = f"stop-loss: {change:.2f}% from cost"
        else:
            reason = f"take-profit: +{change:.2f}% from cost"
        legs.append(Leg(sym, "sell", pos.qty, reason, purpose))
    return legs


def decision_leg(decision: Decision) -> Leg | None:
    if decision.decision == "HOLD" or not decision.symbol:
        return None
    side = "buy" if decision.decision == "BUY" else "sell"
    return Leg(decision.symbol, side, decision.quantity, "decision")


def _floor(value: Decimal) -> int:
    return int(value.to_integral_value(rounding=ROUND_FLOOR))


def max_buy_qty(
    *, cash: Decimal, price: Decimal, equity: Decimal, held: int, limits: RiskLimits
) -> int:
    """The one BUY sizing: the largest whole quantity the gate lets through. `cash` is
    the free cash (what open orders do not commit), paying the shares at the BUY limit
    price plus the fee; `held` the shares held and on order, which with the buy stay
    within max_position_pct of `equity` at the limit price (0: no cap). The limit is never
    below the price itself (a sub-cent price must not round it to 0)."""
    if price <= 0:
        return 0
    limit = max(price, limits.buy_limit(price))
    qty = _floor((cash - limits.fee_per_trade) / limit)
    if limits.max_position_pct > 0:
        qty = min(qty, _floor(equity * limits.max_position_pct / HUNDRED / limit) - held)
    return max(qty, 0)


def check_leg(
    leg: Leg,
    book: Book,
    prices: dict[str, Decimal],
    limits: RiskLimits,
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
        proceeds = leg.qty * limits.worst_sell_price(price)
        if cash + proceeds < limits.fee_per_trade:
            return GateResult(
                False,
                f"sell {leg.qty} {leg.symbol}: proceeds (~{proceeds}) and cash ({cash:.2f}) "
                f"do not cover the {limits.fee_per_trade} fee",
            )
        return GateResult(True)
    pending_buys = reserved.buy_qty.get(leg.symbol, 0)
    return _check_buy(leg, book, cash, pending_buys, price, prices, limits, day)


def _check_buy(
    leg: Leg,
    book: Book,
    cash: Decimal,
    pending_buys: int,
    price: Decimal,
    prices: dict[str, Decimal],
    limits: RiskLimits,
    day: str,
) -> GateResult:
    limit = limits.buy_limit(price)
    cost = leg.qty * limit + limits.fee_per_trade
    if cost > cash:
        return GateResult(
            False, f"buy {leg.qty} {leg.symbol} needs up to {cost} but free cash is {cash:.2f}"
        )
    equity = book.equity(prices)
    opening = book.opening_equity(day)
    if limits.daily_loss_limit_pct and opening:
        floor = opening * (1 - limits.daily_loss_limit_pct / HUNDRED)
        if equity < floor:
            return GateResult(False, f"daily loss limit: equity {equity:.2f} below {floor:.2f}")
    if limits.max_position_pct:
        # At the limit: the worst price the order may fill at.
        after = (book.qty(leg.symbol) + pending_buys + leg.qty) * limit
        cap = equity * limits.max_position_pct / HUNDRED
        if after > cap:
            return GateResult(
                False, f"position cap: {leg.symbol} would be {after:.2f} > {cap:.2f} of equity"
            )
    return GateResult(True, limit_price=limit)
