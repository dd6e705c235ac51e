"""Read-only LangChain tools over the broker and market data, for the agents' turns."""

from __future__ import annotations

from typing import TYPE_CHECKING

from langchain_core.tools import BaseTool

from mytrader.market.broker import Broker
from mytrader.state.book import Book
from mytrader.tools.market_tools import MAX_BAR_DAYS, MAX_NEWS, make_agent_tools
from mytrader.tools.news import (
    FileNews,
    NewsError,
    NewsItem,
    NewsSource,
    NoNews,
    published_by,
    select_news,
)

if TYPE_CHECKING:  # the graph package imports services, which import this package
    from mytrader.graph.context import ToolFactory

TOOL_NAMES: tuple[str, ...] = ("get_quote", "get_bars", "get_my_book", "get_news", "get_asset")


def tool_factory(broker: Broker, news: NewsSource | None = None) -> ToolFactory:
    """(agent, as_of, book) -> that agent's tools for one turn; the agent name is unused
    today (every persona gets the same tools) but kept for per-persona tool sets."""

    def make(agent: str, as_of: str, book: Book) -> list[BaseTool]:
        return make_agent_tools(broker, as_of=as_of, book=book, news=news)

    return make


__all__ = [
    "MAX_BAR_DAYS",
    "MAX_NEWS",
    "TOOL_NAMES",
    "FileNews",
    "NewsError",
    "NewsItem",
    "NewsSource",
    "NoNews",
    "make_agent_tools",
    "published_by",
    "select_news",
    "tool_factory",
]
