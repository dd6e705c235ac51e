"""A virtual sub-account: exact money in Decimal, updated only by fills."""

from __future__ import annotations

from decimal import Decimal

from pydantic import BaseModel, Field

from mytrader.domain.models import OrderResult
from mytrader.domain.money import ZERO

RECENT_OUTCOMES = 5  # trade outcomes kept in the book for the next prompts

CENT4 = Decimal("0.0001")


class Position(BaseModel):
    qty: int = Field(ge=0)
    cost_basis: Decimal  # total paid for the shares held, fees excluded (booked apart)

    @property
    def avg_cost(self) -> Decimal:
        return (self.cost_basis / self.qty).quantize(CENT4) if self.qty else ZERO


class TradeOutcome(BaseModel):
    cycle: int
    side: str
    symbol: str
    qty: int
    price: Decimal
    realized_pnl: Decimal | None = None


class BookError(ValueError):
    """A fill that the book cannot take (should have been refused by the risk gate)."""


class Book(BaseModel):
    account: str
    starting_cash: Decimal
    cash: Decimal
    positions: dict[str, Position] = Field(default_factory=dict)
    realized_pnl: Decimal = ZERO  # net of nothing: fees are in `fees`
    fees: Decimal = ZERO
    trades: int = 0  # orders filled (a partly filled order counts once, when it is done)
    wins: int = 0  # sells that realized a gain
    losses: int = 0  # sells that realized a loss (or nothing)
    last_equity: Decimal | None = None  # equity at the previous snapshot
    day: str | None = None  # trading day of the previous snapshot
    day_start_equity: Decimal | None = None  # equity when that day began (daily loss limit)
    recent: list[TradeOutcome] = Field(default_factory=list)

    @classmethod
    def open(cls, account: str, cash: Decimal) -> Book:
        return cls(account=account, starting_cash=cash, cash=cash)

    def qty(self, symbol: str) -> int:
        pos = self.positions.get(symbol)
        return pos.qty if pos else 0

    def positions_value(self, prices: dict[str, Decimal]) -> Decimal:
        """Marked at the given prices; a symbol without a price is marked at its cost."""
        total = ZERO
        for sym, pos in self.positions.items():
            price = prices.get(sym)
            total += pos.qty * price if price is not None else pos.cost_basis
        return total

    def equity(self, prices: dict[str, Decimal]) -> Decimal:
        return self.cash + self.positions_value(prices)

    def win_rate(self) -> float | None:
        closed = self.wins + self.losses
        return self.wins / closed if closed else None

    def apply_fill(self, order: OrderResult, cycle: int) -> OrderResult:
        """Book a filled order and its fee; returns the order with realized P&L and the
        fee actually charged set."""
        if order.status != "filled" or order.filled_avg_price is None or order.filled_qty <= 0:
            raise BookError(f"not a fill: {order.client_order_id} ({order.status})")
        qty = order.filled_qty
        realized, fee = self.book_fill(
            order.side, order.symbol, qty, qty * order.filled_avg_price, order.fee, cycle
        )
        self.count_order(order.side, realized)
        return order.model_copy(update={"realized_pnl": realized, "fee": fee})

    def book_fill(
        self,
        side: str,
        symbol: str,
        qty: int,
        notional: Decimal,
        fee: Decimal,
        cycle: int,
    ) -> tuple[Decimal | None, Decimal]:
        """Book `qty` shares traded for `notional` dollars (a fill, or the new part of a
        partial fill). Returns the realized P&L (sells) and the fee charged: the fee is
        capped at what the book holds after the trade, so cash never goes negative (the
        risk gate refuses such orders; this covers a fill worse than the gate assumed).
        The order is counted apart (`count_order`), once, when the broker is done with it:
        a partly filled order comes here once per fill."""
        if qty <= 0:
            raise BookError(f"{self.account}: a fill of {qty} {symbol}")
        realized: Decimal | None = None
        if side == "buy":
            if notional > self.cash:
                raise BookError(f"{self.account}: fill costs {notional} but cash is {self.cash}")
            fee = min(fee, self.cash - notional)
            pos = self.positions.get(symbol)
            held, basis = (pos.qty, pos.cost_basis) if pos else (0, ZERO)
            self.positions[symbol] = Position(qty=held + qty, cost_basis=basis + notional)
            self.cash -= notional + fee
        else:
            pos = self.positions.get(symbol)
            if pos is None or pos.qty < qty:
                raise BookError(f"{self.account}: sells {qty} {symbol}, holds {self.qty(symbol)}")
            # A partial sell takes its share of the basis (to 1/100 cent); a full close takes
            # the rest, so cash + basis - realized P&L + fees always equals the start exactly.
            if pos.qty == qty:
                basis_out = pos.cost_basis
            else:
                basis_out = (pos.cost_basis * qty / pos.qty).quantize(CENT4)
            realized = notional - basis_out
            self.realized_pnl += realized
            fee = min(fee, self.cash + notional)
            self.cash += notional - fee
            if pos.qty == qty:
                del self.positions[symbol]
            else:
                self.positions[symbol] = Position(
                    qty=pos.qty - qty, cost_basis=pos.cost_basis - basis_out
                )
        self.fees += fee
        self.recent = [
            *self.recent,
            TradeOutcome(
                cycle=cycle,
                side=side,
                symbol=symbol,
                qty=qty,
                price=(notional / qty).quantize(CENT4),
                realized_pnl=realized,
            ),
        ][-RECENT_OUTCOMES:]
        return realized, fee

    def count_order(self, side: str, realized: Decimal | None) -> None:
        """One order done: one trade, and a sell is a win or a loss on its whole P&L."""
        self.trades += 1
        if side == "sell" and realized is not None:
            if realized > 0:
                self.wins += 1
            else:
                self.losses += 1

    def opening_equity(self, day: str) -> Decimal | None:
        """Equity at the start of trading day `day`: the last mark of an earlier day, or
        what that day opened with when cycles ran on it already (intraday cycles)."""
        return self.day_start_equity if self.day == day else self.last_equity

    def mark(self, prices: dict[str, Decimal], day: str | None = None) -> Decimal:
        """Record this cycle's equity (for the daily loss limit and the weights)."""
        eq = self.equity(prices)
        if day is not None and day != self.day:
            self.day_start_equity = self.last_equity if self.last_equity is not None else eq
            self.day = day
        self.last_equity = eq
        return eq
