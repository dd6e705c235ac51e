"""Builds the arena's services from settings: the one place that picks implementations."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from langchain_core.language_models import BaseChatModel
from langchain_core.tools import BaseTool

from mytrader.adapters.bars import PriceHistory, load_bars
from mytrader.adapters.news import NewsSource
from mytrader.adapters.sim.exchange import SimulatedExchange
from mytrader.adapters.store.db import ArenaStore, StoreLedger
from mytrader.app.context import arena_context
from mytrader.app.models import build_models
from mytrader.app.repair import secret_values
from mytrader.app.storage import open_store
from mytrader.config import Settings
from mytrader.domain.book import Book
from mytrader.graph.context import ArenaServices, ToolFactory
from mytrader.ports.broker import Broker
from mytrader.tools import FileNews, XSearch, tool_factory


@dataclass(kw_only=True)
class AppServices(ArenaServices):
    """The graph's services and the settings they were built from (the application's)."""

    settings: Settings


@lru_cache(maxsize=4)
def cached_history(path: Path | None) -> PriceHistory:
    """Bars are immutable once loaded; Studio asks for the graph on every run."""
    return load_bars(path)


def open_broker(settings: Settings, store: ArenaStore) -> Broker:
    if settings.broker_kind == "alpaca":
        from mytrader.app.brokers import open_alpaca

        return open_alpaca(settings)
    return SimulatedExchange(
        cached_history(settings.market_data_path),
        ledger=StoreLedger(store),
        warmup_days=settings.warmup_days,
        account_rules=settings.sim_account_rules,
    )


def open_services(
    settings: Settings,
    *,
    broker: Broker | None = None,
    models: Mapping[str, BaseChatModel] | None = None,
    store: ArenaStore | None = None,
) -> AppServices:
    store = store or open_store(settings)
    broker = broker or open_broker(settings, store)
    return AppServices(
        settings=settings,
        broker=broker,
        models=models or build_models(settings),
        store=store,
        context=arena_context(settings),
        tools=agent_tools(settings, broker),
        secrets=secret_values(settings),
    )


def agent_tools(settings: Settings, broker: Broker) -> ToolFactory | None:
    """Tools for the agents on real models; house models decide from the prompt alone."""
    if not settings.agent_tools:
        return None
    news: NewsSource | None = FileNews(settings.news_path) if settings.news_path else None
    if news is None and isinstance(broker, NewsSource):  # Alpaca's news, up to as_of
        news = broker
    token = settings.x_bearer_token
    x = XSearch(token, settings.x_api_base_url) if token and token.get_secret_value() else None
    make = tool_factory(broker, news, x)

    def tools(agent: str, as_of: str, book: Book) -> list[BaseTool]:
        return make(agent, as_of, book) if settings.llm_kind(agent) == "openrouter" else []

    return tools
