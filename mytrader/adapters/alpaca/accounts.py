"""Books over several Alpaca accounts: a book with keys of its own trades its own paper
account, the others trade the main one. Market data, the clock and the screener come
from the main account; orders, order lookups and cancels go to the book's account (the
book is named in every client order id); the reconciliation sums every account."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from mytrader.adapters.alpaca.broker import AlpacaBroker
from mytrader.domain.models import OrderRequest, OrderResult
from mytrader.domain.order_ids import account_of


class AccountRouter:
    name: str = "alpaca"

    def __init__(self, main: AlpacaBroker, own: dict[str, AlpacaBroker]) -> None:
        self.main = main
        self.own = own

    def __getattr__(self, name: str) -> Any:
        # Reads (clock, universe, assets, bars, movers, news) are the main account's.
        return getattr(self.main, name)

    def broker_for(self, account: str) -> AlpacaBroker:
        return self.own.get(account, self.main)

    def brokers(self) -> list[AlpacaBroker]:
        return [self.main, *self.own.values()]

    def submit_order(self, order: OrderRequest) -> OrderResult:
        return self.broker_for(order.account).submit_order(order)

    def get_order(self, client_order_id: str, as_of: str | None = None) -> OrderResult | None:
        return self.broker_for(account_of(client_order_id)).get_order(client_order_id, as_of)

    def cancel_order(self, client_order_id: str, as_of: str | None = None) -> OrderResult | None:
        return self.broker_for(account_of(client_order_id)).cancel_order(client_order_id, as_of)

    def find_orders(self, prefix: str, as_of: str | None = None) -> list[OrderResult]:
        return [o for b in self.brokers() for o in b.find_orders(prefix, as_of)]

    def open_orders(self, as_of: str | None = None) -> list[OrderResult]:
        return [o for b in self.brokers() for o in b.open_orders(as_of)]

    def account_cash(self) -> Decimal:
        return sum((b.account_cash() for b in self.brokers()), Decimal(0))

    def positions(self) -> dict[str, int]:
        total: dict[str, int] = {}
        for b in self.brokers():
            for sym, qty in b.positions().items():
                total[sym] = total.get(sym, 0) + qty
        return total

    def describe(self) -> str:
        books = ", ".join(f"{a}: {b.account().account_number}" for a, b in self.own.items())
        return f"{self.main.describe()}; own accounts: {books}"
