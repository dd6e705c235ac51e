"""Market data, indicators, the market view and the brokers (simulated exchange, Alpaca)."""

from mytrader.market.broker import (
    AssetInfo,
    Bar,
    Broker,
    BrokerError,
    DuplicateOrderError,
)
from mytrader.market.data import MarketDataError, PriceHistory, SymbolSeries, load_bars, to_decimal
from mytrader.market.ledger import InMemoryLedger, OrderLedger
from mytrader.market.sectors import name_of, sector_of
from mytrader.market.sim import SimulatedExchange
from mytrader.market.view import build_market_view, symbol_view

__all__ = [
    "AssetInfo",
    "Bar",
    "Broker",
    "BrokerError",
    "DuplicateOrderError",
    "InMemoryLedger",
    "MarketDataError",
    "OrderLedger",
    "PriceHistory",
    "SimulatedExchange",
    "SymbolSeries",
    "build_market_view",
    "load_bars",
    "name_of",
    "sector_of",
    "symbol_view",
    "to_decimal",
]
