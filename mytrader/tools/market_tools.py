"""Read-only LangChain tools an agent may call while it decides.

The tools are built per agent turn, as closures over the broker, the agent's book and
its now (`as_of`): every read passes `as_of` to the broker, so nothing after it can come
back (no look-ahead). No tool places or changes an order.

Each tool answers a compact JSON string (Decimals as strings). Bad input or a failing
broker gives `{"error": "..."}` the model can read and act on: a tool never raises, so
one bad call cannot end the agent's turn.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Collection
from decimal import Decimal
from typing import Any

from langchain_core.tools import BaseTool, StructuredTool
from pydantic import BaseModel, Field, ValidationError

from mytrader.adapters.news import NewsItem, NewsSource, NoNews, published_by
from mytrader.domain.book import Book
from mytrader.ports.broker import Bar, Broker
from mytrader.tools.market_view import LOOKBACK, symbol_view

MAX_BAR_DAYS = 60  # rows a get_bars call may return
MAX_NEWS = 20
SUMMARY_CHARS = 400  # news summaries are cut so one call cannot flood the context

BAR_COLUMNS = ("date", "open", "high", "low", "close", "volume")
INDICATORS = (
    "rsi14",
    "macd",
    "macd_signal",
    "macd_hist",
    "bb_upper",
    "bb_mid",
    "bb_lower",
    "sma20",
    "sma50",
)


# --- argument schemas (their field descriptions are what the model reads) ----------------


class SymbolArgs(BaseModel):
    symbol: str = Field(description="Ticker symbol, e.g. AAPL")


class BarsArgs(BaseModel):
    symbol: str = Field(description="Ticker symbol, e.g. AAPL")
    days: int = Field(
        default=20, description=f"How many recent daily bars to return, 1 to {MAX_BAR_DAYS}"
    )


class NewsArgs(BaseModel):
    symbol: str = Field(description="Ticker symbol, e.g. AAPL")
    limit: int = Field(default=5, description=f"How many headlines, newest first, 1 to {MAX_NEWS}")


class NoArgs(BaseModel):
    pass


# --- results -------------------------------------------------------------------------------


class ToolInputError(ValueError):
    """Input the model can fix (unknown symbol, out-of-range number): shown as is."""


def to_json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), default=_json_default)


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"not JSON serializable: {type(value).__name__}")


def error(message: str) -> str:
    return to_json({"error": message})


def _validation_error(exc: ValidationError) -> str:
    # Wrong argument names or types from the model: tell it what to fix.
    problems = "; ".join(
        f"{'.'.join(str(p) for p in err['loc']) or 'args'}: {err['msg']}" for err in exc.errors()
    )
    return error(f"bad arguments: {problems}")


def _safe(fn: Callable[..., Any]) -> Callable[..., str]:
    """Turn any failure into an error result: a broker outage must not end the turn."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> str:
        try:
            return to_json(fn(*args, **kwargs))
        except ToolInputError as exc:
            return error(str(exc))
        except Exception as exc:
            return error(f"{type(exc).__name__}: {exc}")

    return wrapper


def _tool(fn: Callable[..., Any], name: str, description: str, args: type[BaseModel]) -> BaseTool:
    return StructuredTool.from_function(
        func=_safe(fn),
        name=name,
        description=description,
        args_schema=args,
        handle_validation_error=_validation_error,
    )


# --- the tools -----------------------------------------------------------------------------


class MarketReader:
    """The reads behind the tools, fixed to one broker, one now and one book."""

    def __init__(
        self,
        broker: Broker,
        as_of: str,
        book: Book,
        news: NewsSource,
        allowed_symbols: Collection[str] | None,
    ) -> None:
        self.broker = broker
        self.as_of = as_of
        self.book = book
        self.news_source = news
        self.allowed = {s.upper() for s in allowed_symbols} if allowed_symbols else None

    def symbol(self, raw: str) -> str:
        """The normalized symbol, if the agent may look at it and the broker knows it."""
        sym = raw.strip().upper()
        if not sym:
            raise ToolInputError("symbol is empty")
        if self.allowed is not None and sym not in self.allowed:
            raise ToolInputError(f"symbol {sym} is not in this arena's universe")
        if self.broker.asset(sym) is None:
            raise ToolInputError(f"unknown symbol {sym}")
        return sym

    def history(self, sym: str, limit: int) -> list[Bar]:
        bars = self._up_to_now(self.broker.bars([sym], self.as_of, limit).get(sym))
        if not bars:
            raise ToolInputError(f"no bars for {sym} up to {self.as_of}")
        return bars

    def quote(self, symbol: str) -> dict[str, Any]:
        sym = self.symbol(symbol)
        bars = self.history(sym, 2)
        last = bars[-1]
        prev = bars[-2].close if len(bars) > 1 else None
        change = round(float(last.close / prev - 1) * 100, 2) if prev else None
        return {
            "symbol": sym,
            "session": last.date,
            "close": last.close,
            "prev_close": prev,
            "change_pct": change,
            "volume": last.volume,
        }

    def bars(self, symbol: str, days: int = 20) -> dict[str, Any]:
        if not 1 <= days <= MAX_BAR_DAYS:
            raise ToolInputError(f"days must be between 1 and {MAX_BAR_DAYS}, got {days}")
        sym = self.symbol(symbol)
        bars = self.history(sym, max(days, LOOKBACK))  # the market view's window
        view = symbol_view(sym, bars)  # the same indicator code as the market view
        shown = view.model_dump(include=set(INDICATORS))
        return {
            "symbol": sym,
            "columns": list(BAR_COLUMNS),
            "rows": [[b.date, b.open, b.high, b.low, b.close, b.volume] for b in bars[-days:]],
            "indicators": {"as_of_session": bars[-1].date, **shown},
        }

    def my_book(self) -> dict[str, Any]:
        book = self.book
        prices = self._last_prices(sorted(book.positions))
        positions = [self._position(sym, prices.get(sym)) for sym in sorted(book.positions)]
        win_rate = book.win_rate()
        return {
            "account": book.account,
            "cash": book.cash,
            "starting_cash": book.starting_cash,
            "equity": book.equity(prices),
            "positions": positions,
            "realized_pnl": book.realized_pnl,
            "fees_paid": book.fees,
            "trades": book.trades,
            "wins": book.wins,
            "losses": book.losses,
            "win_rate_pct": None if win_rate is None else round(win_rate * 100, 1),
        }

    def _last_prices(self, symbols: list[str]) -> dict[str, Decimal]:
        if not symbols:
            return {}
        prices = {}
        for sym, rows in self.broker.bars(symbols, self.as_of, 1).items():
            kept = self._up_to_now(rows)
            if kept:
                prices[sym] = kept[-1].close
        return prices

    def _up_to_now(self, bars: list[Bar] | None) -> list[Bar]:
        # The broker promises bars <= as_of; this makes it hold for any adapter.
        # Session dates compare as ISO text on the date part (as_of may be a timestamp).
        return [b for b in bars or [] if b.date[:10] <= self.as_of[:10]]

    def _position(self, sym: str, last: Decimal | None) -> dict[str, Any]:
        pos = self.book.positions[sym]
        row: dict[str, Any] = {
            "symbol": sym,
            "qty": pos.qty,
            "avg_cost": pos.avg_cost,
            "last_price": last,
            "market_value": None,
            "unrealized_pnl": None,
            "unrealized_pct": None,
        }
        if last is not None:
            value = pos.qty * last
            row["market_value"] = value
            row["unrealized_pnl"] = value - pos.cost_basis
            if pos.cost_basis:
                row["unrealized_pct"] = round(float(value / pos.cost_basis - 1) * 100, 2)
        return row

    def news(self, symbol: str, limit: int = 5) -> dict[str, Any]:
        if not 1 <= limit <= MAX_NEWS:
            raise ToolInputError(f"limit must be between 1 and {MAX_NEWS}, got {limit}")
        sym = self.symbol(symbol)
        items = self.news_source.news([sym], self.as_of, limit)
        # Checked again here: a source that leaks a later item must not reach the model.
        items = [i for i in items if published_by(i.created_at, self.as_of)][:limit]
        return {"symbol": sym, "as_of": self.as_of, "news": [_news_row(i) for i in items]}

    def asset(self, symbol: str) -> dict[str, Any]:
        sym = self.symbol(symbol)
        info = self.broker.asset(sym)
        if info is None:  # symbol() checked it; a live broker may change its mind
            raise ToolInputError(f"unknown symbol {sym}")
        return {"symbol": sym, "name": info.name, "sector": info.sector, "tradable": info.tradable}


def _news_row(item: NewsItem) -> dict[str, Any]:
    summary = item.summary
    if len(summary) > SUMMARY_CHARS:
        summary = summary[: SUMMARY_CHARS - 3].rstrip() + "..."
    row = {
        "id": item.id,
        "created_at": item.created_at,
        "headline": item.headline,
        "summary": summary,
        "source": item.source,
    }
    return {**row, "url": item.url} if item.url else row


def make_agent_tools(
    broker: Broker,
    *,
    as_of: str,
    book: Book,
    news: NewsSource | None = None,
    allowed_symbols: Collection[str] | None = None,
) -> list[BaseTool]:
    """The read-only tools of one agent turn, bound to its now (`as_of`) and its book."""
    r = MarketReader(broker, as_of, book, news or NoNews(), allowed_symbols)
    return [
        _tool(
            r.quote,
            "get_quote",
            "Latest daily quote of a symbol as of now: last close, previous close, "
            "change % vs the previous close, volume, and the session date.",
            SymbolArgs,
        ),
        _tool(
            r.bars,
            "get_bars",
            f"Recent daily bars of a symbol up to now (oldest first, at most {MAX_BAR_DAYS}) "
            "as rows [date, open, high, low, close, volume], plus the latest indicators: "
            "RSI14, MACD line/signal/histogram, Bollinger bands (20, 2), SMA20 and SMA50 "
            "(null when there is not enough history).",
            BarsArgs,
        ),
        _tool(
            r.my_book,
            "get_my_book",
            "Your own account: cash, equity, positions (quantity, average cost, last price, "
            "market value, unrealized P&L), realized P&L, fees paid, trades and win rate.",
            NoArgs,
        ),
        _tool(
            r.news,
            "get_news",
            "Recent news headlines about a symbol published up to now, newest first "
            "(an empty list when there is none).",
            NewsArgs,
        ),
        _tool(
            r.asset,
            "get_asset",
            "Static facts about a symbol: company name, sector and whether it is tradable.",
            SymbolArgs,
        ),
    ]
