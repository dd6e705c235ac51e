"""The one interface every market and broker implements: the simulated exchange
(offline, over bundled real bars) and the Alpaca adapter.

Time is explicit: every read takes `as_of`, the decision's now, and returns nothing
from after it. `next_session` is the clock: offline it steps one trading day.

Orders are accepted first and filled later, as at a real broker: `submit_order` answers
`pending`, and `get_order(cid, as_of)` tells what became of it by `as_of`. The graph books
fills at the start of the next cycle, so offline, live and backtests share one accounting.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Protocol, runtime_checkable

from pydantic import BaseModel

from mytrader.domain.models import Movers, OrderRequest, OrderResult


class Bar(BaseModel):
    date: str  # ISO date of the session
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: int


class AssetInfo(BaseModel):
    symbol: str
    name: str = ""
    sector: str = "other"
    tradable: bool = True


class MarketClock(BaseModel):
    """The market's clock at `timestamp` (the broker's now, or the simulated day)."""

    timestamp: str
    is_open: bool
    next_open: str | None = None
    next_close: str | None = None


class BrokerError(RuntimeError):
    """The broker answered with an error (refusal, unknown order, outage)."""


class DuplicateOrderError(BrokerError):
    """An order with this client_order_id exists already (Alpaca: 422 'must be unique')."""


class BrokerSetupError(BrokerError):
    """The broker cannot be used at all (bad keys, a live URL without the opt-in, no
    connection): commands print the message and exit 3, before anything is written."""


@runtime_checkable
class Broker(Protocol):
    """Market data and order routing. Implementations must be safe to read from threads."""

    name: str

    def next_session(self, after: str | None) -> str | None:
        """The next `as_of` after `after` (None: the first one); None when history is exhausted."""
        ...

    def is_open(self, as_of: str) -> bool:
        """Whether an order decided at `as_of` can be placed."""
        ...

    def universe(self) -> list[str]:
        """Symbols that can be traded."""
        ...

    def asset(self, symbol: str) -> AssetInfo | None:
        """Static facts about a symbol; None if unknown."""
        ...

    def bars(self, symbols: list[str], as_of: str, limit: int) -> dict[str, list[Bar]]:
        """Daily bars up to and including `as_of`, oldest first, at most `limit` per symbol."""
        ...

    def movers(self, as_of: str, top: int) -> Movers:
        """Top gainers, top losers and most active by volume on the session of `as_of`."""
        ...

    def clock(self, as_of: str | None = None) -> MarketClock:
        """Whether the market is open now (offline: at the simulated day `as_of`)."""
        ...

    def submit_order(self, order: OrderRequest) -> OrderResult:
        """Place an order: `pending` (accepted, fills come later) or `rejected`.
        Raises DuplicateOrderError if its client_order_id was used."""
        ...

    def get_order(self, client_order_id: str, as_of: str | None = None) -> OrderResult | None:
        """An order placed before, by its client_order_id, as the broker knows it at `as_of`
        (live: now): fills, partial fills, cancellation or expiry. None if unknown."""
        ...

    def find_orders(self, prefix: str, as_of: str | None = None) -> list[OrderResult]:
        """Every order whose client_order_id starts with `prefix`, in placement order."""
        ...

    def cancel_order(self, client_order_id: str, as_of: str | None = None) -> OrderResult | None:
        """Cancel an open order; returns it as it stands after the cancel (a fill that
        happened first stays a fill). None if unknown."""
        ...
