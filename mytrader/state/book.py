"""A virtual sub-account: exact money in Decimal, updated only by fills."""

from __future__ import annotations

from decimal import Decimal

from pydantic import BaseModel, Field

from mytrader.state.models import OrderResult

RECENT_OUTCOMES = 5  # trade outcomes kept in the book for the next prompts

ZERO = Decimal("0")


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
    trades: int = 0  # filled orders
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
        """Book a filled order and its fee; returns the order with realized P&L set."""
        if order.status != "filled" or order.filled_avg_price is None or order.filled_qty <= 0:
            raise BookError(f"not a fill: {order.client_order_id} ({order.status})")
        qty, price, fee = order.filled_qty, order.filled_avg_price, order.fee
        realized: Decimal | None = None
        if order.side == "buy":
            cost = qty * price + fee
            if cost > self.cash:
                raise BookError(f"{self.account}: fill costs {cost} but cash is {self.cash}")
            pos = self.positions.get(order.symbol)
            held, basis = (pos.qty, pos.cost_basis) if pos else (0, ZERO)
            self.positions[order.symbol] = Position(qty=held + qty, cost_basis=basis + qty * price)
            self.cash -= cost
        else:
            pos = self.positions.get(order.symbol)
            if pos is None or pos.qty < qty:
                raise BookError(
                    f"{self.account}: sells {qty} {order.symbol}, holds {self.qty(order.symbol)}"
                )
            # A partial sell takes its share of the basis (to 1/100 cent); a full close takes
            # the rest, so cash + basis - realized P&L + fees always equals the start exactly.
            if pos.qty == qty:
                basis_out = pos.cost_basis
            else:
                basis_out = (pos.cost_basis * qty / pos.qty).quantize(CENT4)
            realized = qty * price - basis_out
            self.realized_pnl += realized
            if realized > 0:
                self.wins += 1
            else:
                self.losses += 1
            self.cash += qty * price - fee
            if pos.qty == qty:
                del self.positions[order.symbol]
            else:
                self.positions[order.symbol] = Position(
                    qty=pos.qty - qty, cost_basis=pos.cost_basis - basis_out
                )
        self.fees += fee
        self.trades += 1
        self.recent = [
            *self.recent,
            TradeOutcome(
                cycle=cycle,
                side=order.side,
                symbol=order.symbol,
                qty=qty,
                price=price,
                realized_pnl=realized,
            ),
        ][-RECENT_OUTCOMES:]
        return order.model_copy(update={"realized_pnl": realized})

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
