"""The Alpaca broker: the `Broker` protocol over alpaca-py (trading, market data, screener,
news), for a paper account by default. A façade over its parts, one job each:

- `config`: what a broker is built from (`AlpacaConfig`; the app builds it from settings);
- `http`: the endpoint guard, timeouts, the request budget, retries, Alpaca's errors;
- `trading`: account, positions, clock, tradable assets, orders (placed once, never twice);
- `data`: bars, snapshots, movers (screener or scan), news;
- `parsing`: Alpaca's JSON <-> our models;
- `accounts`: books with paper accounts of their own.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from mytrader.adapters.alpaca.config import AlpacaConfig
from mytrader.adapters.alpaca.data import AlpacaData
from mytrader.adapters.alpaca.http import AlpacaHttp, BrokerUnavailable
from mytrader.adapters.alpaca.trading import AccountInfo, AlpacaTrading
from mytrader.adapters.news import NewsItem
from mytrader.domain.models import Movers, OrderRequest, OrderResult
from mytrader.ports.broker import AssetInfo, Bar, BrokerSetupError, MarketClock

__all__ = ["AccountInfo", "AlpacaBroker", "AlpacaConfig", "BrokerSetupError", "BrokerUnavailable"]


class AlpacaBroker:
    """Broker over one Alpaca account. Reads are safe from threads. Building one checks
    the endpoints (live only with the opt-in) and sends no request."""

    name: str = "alpaca"

    def __init__(self, config: AlpacaConfig) -> None:
        self.config = config
        self.http = AlpacaHttp(config)
        self.live, self.base_url = self.http.live, self.http.base_url
        self.trading = AlpacaTrading(self.http)
        self.market = AlpacaData(self.http, config, self.trading.universe)

    @property
    def requests(self) -> int:
        """Requests sent, for the README's cost figures and the benchmark."""
        return self.http.requests

    # --- account -------------------------------------------------------------------------

    def account(self) -> AccountInfo:
        return self.trading.account()

    def describe(self) -> str:
        info = self.account()
        kind = "LIVE" if self.live else "paper"
        return f"alpaca {kind} account {info.account_number} at {self.base_url}"

    def account_cash(self) -> Decimal:
        return self.account().cash

    def positions(self) -> dict[str, int]:
        return self.trading.positions()

    # --- clock and reference data --------------------------------------------------------

    def next_session(self, after: str | None) -> str | None:
        return self.trading.next_session(after)

    def is_open(self, as_of: str) -> bool:
        return self.trading.is_open(as_of)

    def clock(self, as_of: str | None = None) -> MarketClock:
        return self.trading.clock(as_of)

    def universe(self) -> list[str]:
        return self.trading.universe()

    def asset(self, symbol: str) -> AssetInfo | None:
        return self.trading.asset(symbol)

    # --- market data and news ------------------------------------------------------------

    def bars(self, symbols: list[str], as_of: str, limit: int) -> dict[str, list[Bar]]:
        return self.market.bars(symbols, as_of, limit)

    def snapshots(self, symbols: Sequence[str]) -> dict[str, dict[str, Any]]:
        return self.market.snapshots(symbols)

    def movers(self, as_of: str, top: int) -> Movers:
        return self.market.movers(as_of, top)

    def scan_movers(self, top: int) -> Movers:
        return self.market.scan_movers(top)

    def news(self, symbols: list[str], as_of: str, limit: int) -> list[NewsItem]:
        return self.market.news(symbols, as_of, limit)

    # --- orders --------------------------------------------------------------------------

    def submit_order(self, order: OrderRequest) -> OrderResult:
        return self.trading.submit_order(order)

    def get_order(self, client_order_id: str, as_of: str | None = None) -> OrderResult | None:
        return self.trading.get_order(client_order_id, as_of)

    def cancel_order(self, client_order_id: str, as_of: str | None = None) -> OrderResult | None:
        return self.trading.cancel_order(client_order_id, as_of)

    def find_orders(self, prefix: str, as_of: str | None = None) -> list[OrderResult]:
        return self.trading.find_orders(prefix, as_of)

    def open_orders(self, as_of: str | None = None) -> list[OrderResult]:
        return self.trading.open_orders(as_of)
