"""Read-only LangChain tools over the broker and market data, for the agents' turns."""

from __future__ import annotations

from collections.abc import Callable

from langchain_core.tools import BaseTool

from mytrader.adapters.news import (
    FileNews,
    NewsError,
    NewsItem,
    NewsSource,
    NoNews,
    published_by,
    select_news,
)
from mytrader.domain.book import Book
from mytrader.ports.broker import Broker
from mytrader.tools.market_tools import MAX_BAR_DAYS, MAX_NEWS, make_agent_tools
from mytrader.tools.x_search import XSearch, make_x_search_tool

# (agent, as_of, book) -> the read-only tools that agent may call in this turn
ToolFactory = Callable[[str, str, Book], list[BaseTool]]

TOOL_NAMES: tuple[str, ...] = ("get_quote", "get_bars", "get_my_book", "get_news", "get_asset")
X_SEARCH_AGENT = "grok"  # the rumour trader; the only persona given search_x


def tool_factory(
    broker: Broker, news: NewsSource | None = None, x_search: XSearch | None = None
) -> ToolFactory:
    """(agent, as_of, book) -> that agent's tools for one turn: the market tools for
    every persona, plus `search_x` for Grok when an X client is given."""

    def make(agent: str, as_of: str, book: Book) -> list[BaseTool]:
        tools = make_agent_tools(broker, as_of=as_of, book=book, news=news)
        if x_search is not None and agent == X_SEARCH_AGENT:
            tools.append(make_x_search_tool(x_search, as_of))
        return tools

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
    "ToolFactory",
    "XSearch",
    "make_agent_tools",
    "published_by",
    "select_news",
    "tool_factory",
]
