"""The simulated account's memory for Alpaca's account rules: the orders that may be open,
by symbol, and the position and cash of the orders that closed (`SimulatedExchange` asks
`mytrader.domain.account_rules` with them)."""

from __future__ import annotations

import threading
from decimal import Decimal

from mytrader.domain.account_rules import AccountOrder
from mytrader.domain.models import OrderRequest, OrderResult
from mytrader.ports.ledger import OrderLedger


class Account:
    """The simulated account: the ids of orders that may be open, by symbol, and the
    position and cash of the orders that closed. Loaded from the ledger once (it survives
    restarts), then kept up to date; closed orders never reopen, so it only shrinks."""

    def __init__(self, arena: str, cash: Decimal | None) -> None:
        self.arena = arena
        self.lock = threading.RLock()
        self.cash = cash
        self.open: dict[str, set[str]] = {}
        self.held: dict[str, int] = {}
        self.loaded = False

    def load(self, ledger: OrderLedger) -> None:
        if self.loaded:
            return
        for order in ledger.find(f"{self.arena}-"):
            self.opened(order.request)
        self.loaded = True

    def opened(self, order: OrderRequest) -> None:
        self.open.setdefault(order.symbol, set()).add(order.client_order_id)

    def closed(self, order: OrderResult) -> None:
        self.open.get(order.symbol, set()).discard(order.client_order_id)
        if not order.filled_qty or order.filled_avg_price is None:
            return
        sign = 1 if order.side == "buy" else -1
        self.held[order.symbol] = self.held.get(order.symbol, 0) + sign * order.filled_qty
        if self.cash is not None:
            self.cash -= sign * order.filled_qty * order.filled_avg_price


def account_order(order: OrderRequest | OrderResult, price: Decimal | None) -> AccountOrder:
    """An order as the account rules see it: what is left of it, in its complex order."""
    left = order.qty - (order.filled_qty if isinstance(order, OrderResult) else 0)
    return AccountOrder(order.client_order_id, order.symbol, order.side, left, price)
