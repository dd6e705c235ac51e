"""The agents' read-only tools over a tiny synthetic market, and the offline news file."""

from __future__ import annotations

import json
import math
import re
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import ToolMessage
from langchain_core.tools import BaseTool
from langchain_openai import ChatOpenAI

from mytrader.adapters.bars import load_bars
from mytrader.adapters.sim.exchange import SimulatedExchange
from mytrader.domain.book import Book, Position
from mytrader.domain.models import Movers, OrderRequest, OrderResult
from mytrader.ports.broker import AssetInfo, Bar, Broker, BrokerError
from mytrader.tools import (
    TOOL_NAMES,
    FileNews,
    NewsError,
    NewsItem,
    NoNews,
    make_agent_tools,
    tool_factory,
)

START = date(2024, 1, 1)
N_DAYS = 40
AS_OF_I = 29  # the decision's day: AAA has 30 bars up to it
DDD_FROM = 35  # DDD trades only after AS_OF


def day(i: int) -> str:
    return (START + timedelta(days=i)).isoformat()


AS_OF = day(AS_OF_I)  # 2024-01-30


def market_csv(future_factor: int = 1) -> str:
    """AAA closes 100, 101, ... (one a day); BBB trades the first 3 days; DDD starts late.

    `future_factor` rewrites every bar after AS_OF (and adds days), to prove nothing
    after it can show."""
    rows = ["symbol,date,open,high,low,close,volume"]
    n_days = N_DAYS if future_factor == 1 else N_DAYS + 5
    for i in range(n_days):
        f = future_factor if i > AS_OF_I else 1
        close = (100 + i) * f
        rows.append(f"AAA,{day(i)},{close - 0.5},{close + 1},{close - 1},{close},{1000 + 10 * i}")
        if i >= DDD_FROM:
            rows.append(f"DDD,{day(i)},{30 * f},{31 * f},{29 * f},{30 * f},{500 * f}")
    for i, close in enumerate((50, 55, 44)):
        rows.append(f"BBB,{day(i)},{close},{close},{close},{close},2000")
    return "\n".join(rows) + "\n"


def exchange(tmp_path: Path, future_factor: int = 1) -> SimulatedExchange:
    path = tmp_path / f"market_{future_factor}.csv"
    path.write_text(market_csv(future_factor))
    return SimulatedExchange(load_bars(path), warmup_days=1)


NEWS: list[dict[str, Any]] = [
    {"id": "n1", "headline": "old AAA", "symbols": ["AAA"], "created_at": "2024-01-10"},
    {
        "id": "n2",
        "headline": "AAA morning",
        "symbols": ["AAA"],
        "created_at": "2024-01-30T09:00:00Z",
    },
    {"id": "n3", "headline": "AAA and BBB", "symbols": ["aaa", "BBB"], "created_at": "2024-01-29"},
    {"id": "n4", "headline": "AAA future", "symbols": ["AAA"], "created_at": "2024-01-31"},
    {"id": 5, "headline": "BBB only", "symbols": ["BBB"], "created_at": "2024-01-15"},
    {
        "id": "n6",
        "headline": "AAA same day",
        "summary": "x" * 1000,
        "source": "wire",
        "symbols": ["AAA"],
        "created_at": "2024-01-30",
        "url": "https://example.com/n6",
    },
]


def write_news(tmp_path: Path, items: list[dict[str, Any]] = NEWS) -> Path:
    path = tmp_path / "news.jsonl"
    path.write_text("\n".join(json.dumps(item) for item in items) + "\n\n")
    return path


@pytest.fixture
def ex(tmp_path: Path) -> SimulatedExchange:
    return exchange(tmp_path)


@pytest.fixture
def book() -> Book:
    return Book(
        account="grok",
        starting_cash=Decimal("2000"),
        cash=Decimal("500"),
        positions={
            "AAA": Position(qty=10, cost_basis=Decimal("1200")),
            "BBB": Position(qty=4, cost_basis=Decimal("200")),
            "DDD": Position(qty=1, cost_basis=Decimal("30")),  # no bar up to AS_OF yet
        },
        realized_pnl=Decimal("12.5"),
        fees=Decimal("5"),
        trades=5,
        wins=2,
        losses=1,
    )


def tools_by_name(broker: Broker, book: Book, as_of: str = AS_OF, **kw: Any) -> dict[str, BaseTool]:
    return {t.name: t for t in make_agent_tools(broker, as_of=as_of, book=book, **kw)}


def call(tool: BaseTool, **args: Any) -> Any:
    result = tool.invoke(args)
    assert isinstance(result, str)
    return json.loads(result)


# --- the tool set --------------------------------------------------------------------------


def test_tool_names_descriptions_and_schemas(ex: SimulatedExchange, book: Book) -> None:
    tools = make_agent_tools(ex, as_of=AS_OF, book=book)
    assert [t.name for t in tools] == list(TOOL_NAMES)
    assert TOOL_NAMES == ("get_quote", "get_bars", "get_my_book", "get_news", "get_asset")
    for t in tools:
        assert len(t.description) > 30, t.name
        assert t.args_schema is not None, t.name
    assert set(tools[0].args) == {"symbol"}
    assert set(tools[1].args) == {"symbol", "days"}
    assert tools[2].args == {}


def test_tool_factory_binds_as_of_and_book(ex: SimulatedExchange, book: Book) -> None:
    make = tool_factory(ex)
    tools = {t.name: t for t in make("grok", day(2), book)}
    assert call(tools["get_quote"], symbol="AAA")["session"] == day(2)
    assert call(tools["get_my_book"])["account"] == "grok"


# --- each tool, hand-checked ---------------------------------------------------------------


def test_get_quote(ex: SimulatedExchange, book: Book) -> None:
    quote = call(tools_by_name(ex, book)["get_quote"], symbol="AAA")
    assert quote == {
        "symbol": "AAA",
        "session": AS_OF,
        "close": "129.0000",
        "prev_close": "128.0000",
        "change_pct": 0.78,  # 129 / 128 - 1
        "volume": 1290,
    }


def test_get_quote_of_a_stale_symbol_and_of_the_first_bar(
    ex: SimulatedExchange, book: Book
) -> None:
    # BBB stopped trading on day 2: its quote is its last session, not a made-up one.
    bbb = call(tools_by_name(ex, book)["get_quote"], symbol="bbb")
    assert (bbb["symbol"], bbb["session"], bbb["close"], bbb["change_pct"]) == (
        "BBB",
        day(2),
        "44.0000",
        -20.0,
    )
    first = call(tools_by_name(ex, book, as_of=day(0))["get_quote"], symbol="AAA")
    assert (first["prev_close"], first["change_pct"]) == (None, None)


def test_get_bars_rows_and_indicators(ex: SimulatedExchange, book: Book) -> None:
    out = call(tools_by_name(ex, book)["get_bars"], symbol="AAA", days=3)
    assert out["columns"] == ["date", "open", "high", "low", "close", "volume"]
    assert out["rows"] == [
        [day(27), "126.5000", "128.0000", "126.0000", "127.0000", 1270],
        [day(28), "127.5000", "129.0000", "127.0000", "128.0000", 1280],
        [day(29), "128.5000", "130.0000", "128.0000", "129.0000", 1290],
    ]
    ind = out["indicators"]
    band = 2 * math.sqrt((20**2 - 1) / 12)  # population stdev of 20 consecutive integers
    assert ind["as_of_session"] == AS_OF
    assert ind["sma20"] == ind["bb_mid"] == 119.5  # mean of 110..129
    assert ind["bb_upper"] == round(119.5 + band, 2)
    assert ind["bb_lower"] == round(119.5 - band, 2)
    assert ind["rsi14"] == 100.0  # only gains
    assert ind["macd"] is not None and ind["macd"] > 0  # rising: the fast EMA leads
    assert ind["macd_signal"] is None and ind["macd_hist"] is None  # needs 34 bars, has 30
    assert ind["sma50"] is None


def test_get_bars_default_and_short_history(ex: SimulatedExchange, book: Book) -> None:
    tools = tools_by_name(ex, book)
    assert len(call(tools["get_bars"], symbol="AAA")["rows"]) == 20
    assert len(call(tools["get_bars"], symbol="AAA", days=60)["rows"]) == AS_OF_I + 1
    assert len(call(tools["get_bars"], symbol="BBB", days=10)["rows"]) == 3


@pytest.mark.parametrize("days", [0, -1, 61, 1000])
def test_get_bars_days_out_of_range(ex: SimulatedExchange, book: Book, days: int) -> None:
    out = call(tools_by_name(ex, book)["get_bars"], symbol="AAA", days=days)
    assert out == {"error": f"days must be between 1 and 60, got {days}"}


def test_get_my_book(ex: SimulatedExchange, book: Book) -> None:
    out = call(tools_by_name(ex, book)["get_my_book"])
    aaa, bbb, ddd = out["positions"]
    assert (aaa["symbol"], aaa["qty"], aaa["avg_cost"], aaa["last_price"]) == (
        "AAA",
        10,
        "120.0000",
        "129.0000",
    )
    assert Decimal(aaa["market_value"]) == 1290
    assert Decimal(aaa["unrealized_pnl"]) == 90
    assert aaa["unrealized_pct"] == 7.5
    assert Decimal(bbb["unrealized_pnl"]) == -24  # 4 x 44 - 200
    assert bbb["unrealized_pct"] == -12.0
    # No price up to AS_OF: shown as unknown, and valued at cost like Book.equity does.
    assert ddd["last_price"] is ddd["unrealized_pnl"] is ddd["market_value"] is None
    assert Decimal(out["equity"]) == 500 + 1290 + 176 + 30
    assert Decimal(out["equity"]) == book.equity({"AAA": Decimal(129), "BBB": Decimal(44)})
    assert (out["cash"], out["starting_cash"], out["realized_pnl"]) == ("500", "2000", "12.5")
    assert (out["fees_paid"], out["trades"], out["wins"], out["losses"]) == ("5", 5, 2, 1)
    assert out["win_rate_pct"] == 66.7


def test_get_my_book_of_a_fresh_book(ex: SimulatedExchange) -> None:
    out = call(tools_by_name(ex, Book.open("openai", Decimal("1000")))["get_my_book"])
    assert out["positions"] == [] and out["equity"] == "1000"
    assert out["win_rate_pct"] is None


def test_get_asset(ex: SimulatedExchange, book: Book) -> None:
    out = call(tools_by_name(ex, book)["get_asset"], symbol=" aaa ")
    # The synthetic symbol has no company name or sector in the bundled tables.
    assert out == {"symbol": "AAA", "name": "", "sector": "other", "tradable": True}


def test_get_news_without_a_source_is_empty(ex: SimulatedExchange, book: Book) -> None:
    assert call(tools_by_name(ex, book)["get_news"], symbol="AAA") == {
        "symbol": "AAA",
        "as_of": AS_OF,
        "news": [],
    }


def test_get_news_from_a_file(ex: SimulatedExchange, book: Book, tmp_path: Path) -> None:
    tools = tools_by_name(ex, book, news=FileNews(write_news(tmp_path)))
    out = call(tools["get_news"], symbol="AAA", limit=3)
    assert [n["id"] for n in out["news"]] == ["n2", "n6", "n3"]  # n4 is tomorrow's
    n6 = out["news"][1]
    assert len(n6["summary"]) == 400 and n6["summary"].endswith("...")
    assert (n6["source"], n6["url"]) == ("wire", "https://example.com/n6")
    assert "url" not in out["news"][0]
    assert call(tools["get_news"], symbol="AAA", limit=0) == {
        "error": "limit must be between 1 and 20, got 0"
    }


# --- no look-ahead -------------------------------------------------------------------------


def test_no_tool_output_changes_when_the_future_is_rewritten(tmp_path: Path, book: Book) -> None:
    news = FileNews(write_news(tmp_path))
    now = tools_by_name(exchange(tmp_path), book, news=news)
    rewritten = tools_by_name(exchange(tmp_path, future_factor=3), book, news=news)
    calls: list[tuple[str, dict[str, Any]]] = [
        ("get_quote", {"symbol": "AAA"}),
        ("get_bars", {"symbol": "AAA", "days": 60}),
        ("get_bars", {"symbol": "DDD"}),
        ("get_my_book", {}),
        ("get_news", {"symbol": "AAA", "limit": 20}),
        ("get_asset", {"symbol": "AAA"}),
    ]
    for name, args in calls:
        assert now[name].invoke(args) == rewritten[name].invoke(args), name


@pytest.mark.parametrize("as_of_i", [0, 5, AS_OF_I, N_DAYS - 1])
def test_get_bars_never_returns_a_bar_after_as_of(tmp_path: Path, book: Book, as_of_i: int) -> None:
    tools = tools_by_name(exchange(tmp_path), book, as_of=day(as_of_i))
    rows = call(tools["get_bars"], symbol="AAA", days=60)["rows"]
    assert rows[-1][0] == day(as_of_i)
    assert all(r[0] <= day(as_of_i) for r in rows)


class LeakyBroker:
    """A broker adapter with a bug: after the bars up to `as_of` it adds later ones."""

    name = "leaky"

    def __init__(self, inner: SimulatedExchange) -> None:
        self.inner = inner

    def next_session(self, after: str | None) -> str | None:
        return self.inner.next_session(after)

    def is_open(self, as_of: str) -> bool:
        return True

    def universe(self) -> list[str]:
        return self.inner.universe()

    def asset(self, symbol: str) -> AssetInfo | None:
        return self.inner.asset(symbol)

    def bars(self, symbols: list[str], as_of: str, limit: int) -> dict[str, list[Bar]]:
        honest = self.inner.bars(symbols, as_of, limit)
        everything = self.inner.bars(symbols, day(N_DAYS), N_DAYS)
        return {
            sym: rows + [b for b in everything[sym] if b.date > as_of]
            for sym, rows in honest.items()
        }

    def movers(self, as_of: str, top: int) -> Movers:
        return Movers()

    def submit_order(self, order: OrderRequest) -> OrderResult:
        raise AssertionError("tools must never place orders")

    def get_order(self, client_order_id: str) -> OrderResult | None:
        raise AssertionError("tools must never read orders")


def test_tools_drop_what_a_buggy_broker_leaks_from_the_future(
    ex: SimulatedExchange, book: Book
) -> None:
    honest = tools_by_name(ex, book)
    leaky = tools_by_name(LeakyBroker(ex), book)
    calls: list[tuple[str, dict[str, Any]]] = [
        ("get_quote", {"symbol": "AAA"}),
        ("get_bars", {"symbol": "AAA", "days": 60}),
        ("get_my_book", {}),
    ]
    for name, args in calls:
        assert leaky[name].invoke(args) == honest[name].invoke(args), name


def test_get_news_drops_what_a_source_leaks_from_the_future(
    ex: SimulatedExchange, book: Book
) -> None:
    class LeakyNews:
        def news(self, symbols: list[str], as_of: str, limit: int) -> list[NewsItem]:
            return [
                NewsItem(id="late", headline="h", symbols=["AAA"], created_at=day(AS_OF_I + 1)),
                NewsItem(id="ok", headline="h", symbols=["AAA"], created_at=AS_OF),
            ]

    out = call(tools_by_name(ex, book, news=LeakyNews())["get_news"], symbol="AAA")
    assert [n["id"] for n in out["news"]] == ["ok"]


# --- bad input never raises ------------------------------------------------------------------


@pytest.mark.parametrize("name", ["get_quote", "get_bars", "get_news", "get_asset"])
def test_unknown_symbol_is_an_error_result(ex: SimulatedExchange, book: Book, name: str) -> None:
    tools = tools_by_name(ex, book)
    assert call(tools[name], symbol="ZZZ") == {"error": "unknown symbol ZZZ"}
    assert call(tools[name], symbol="  ") == {"error": "symbol is empty"}


def test_symbol_known_but_without_bars_yet(ex: SimulatedExchange, book: Book) -> None:
    out = call(tools_by_name(ex, book)["get_quote"], symbol="DDD")
    assert out == {"error": f"no bars for DDD up to {AS_OF}"}


def test_allowed_symbols_limit_what_can_be_read(ex: SimulatedExchange, book: Book) -> None:
    tools = tools_by_name(ex, book, allowed_symbols=["aaa"])
    assert call(tools["get_quote"], symbol="AAA")["symbol"] == "AAA"
    assert call(tools["get_asset"], symbol="BBB") == {
        "error": "symbol BBB is not in this arena's universe"
    }


def test_bad_arguments_are_error_results(ex: SimulatedExchange, book: Book) -> None:
    tools = tools_by_name(ex, book)
    missing = call(tools["get_bars"], days=3)
    assert missing["error"].startswith("bad arguments: symbol:")
    wrong_type = call(tools["get_bars"], symbol="AAA", days="many")
    assert wrong_type["error"].startswith("bad arguments: days:")


def test_a_failing_broker_is_an_error_result(ex: SimulatedExchange, book: Book) -> None:
    class DownBroker(LeakyBroker):
        def bars(self, symbols: list[str], as_of: str, limit: int) -> dict[str, list[Bar]]:
            raise BrokerError("503 service unavailable")

    tools = tools_by_name(DownBroker(ex), book)
    assert call(tools["get_quote"], symbol="AAA") == {
        "error": "BrokerError: 503 service unavailable"
    }
    assert call(tools["get_my_book"])["error"].startswith("BrokerError")


# --- through the chat-model tool-call path ---------------------------------------------------


def test_a_model_tool_call_runs_like_the_agent_runs_it(ex: SimulatedExchange, book: Book) -> None:
    # agent.py: tool.invoke(call["args"]) and str() of the result becomes a ToolMessage.
    tools = tools_by_name(ex, book)
    result = tools["get_quote"].invoke({"symbol": "AAA"})
    assert json.loads(str(result))["close"] == "129.0000"
    # The same tool called with a full ToolCall answers a ToolMessage (LangChain's own path).
    message = tools["get_bars"].invoke(
        {"name": "get_bars", "args": {"symbol": "AAA", "days": 2}, "id": "c1", "type": "tool_call"}
    )
    assert isinstance(message, ToolMessage) and message.tool_call_id == "c1"
    assert len(json.loads(str(message.content))["rows"]) == 2


def test_bound_to_chat_openai_as_valid_function_schemas(ex: SimulatedExchange, book: Book) -> None:
    model = ChatOpenAI(model="m", api_key="sk-x", base_url="http://127.0.0.1:9")  # type: ignore[arg-type]
    bound: Any = model.bind_tools(make_agent_tools(ex, as_of=AS_OF, book=book))
    specs = bound.kwargs["tools"]
    json.dumps(specs)  # what goes on the wire
    assert [s["function"]["name"] for s in specs] == list(TOOL_NAMES)
    for spec in specs:
        assert spec["type"] == "function"
        fn = spec["function"]
        assert re.fullmatch(r"[a-zA-Z0-9_-]{1,64}", fn["name"])
        assert fn["description"]
        params = fn["parameters"]
        assert params["type"] == "object"
        assert set(params.get("required", [])) <= set(params["properties"])
    by_name = {s["function"]["name"]: s["function"]["parameters"] for s in specs}
    assert by_name["get_quote"]["required"] == ["symbol"]
    assert by_name["get_quote"]["properties"]["symbol"]["type"] == "string"
    assert by_name["get_bars"]["properties"]["days"] == {
        "default": 20,
        "description": "How many recent daily bars to return, 1 to 60",
        "type": "integer",
    }
    assert by_name["get_my_book"]["properties"] == {}


# --- the news sources --------------------------------------------------------------------------


def ids(items: list[NewsItem]) -> list[str]:
    return [i.id for i in items]


def test_file_news_by_date_newest_first_and_limited(tmp_path: Path) -> None:
    src = FileNews(write_news(tmp_path))
    assert ids(src.news(["AAA"], AS_OF, 10)) == ["n2", "n6", "n3", "n1"]
    assert ids(src.news(["AAA"], AS_OF, 2)) == ["n2", "n6"]
    assert ids(src.news(["aaa"], "2024-01-31", 1)) == ["n4"]
    assert ids(src.news(["BBB"], AS_OF, 10)) == ["n3", "5"]  # an integer id reads as text
    assert ids(src.news([], "2024-01-15", 10)) == ["5", "n1"]  # no symbols: everything
    assert src.news(["AAA"], "2024-01-09", 10) == []
    assert src.news(["AAA"], AS_OF, 0) == []


def test_file_news_at_a_timestamp(tmp_path: Path) -> None:
    src = FileNews(write_news(tmp_path))
    # Before n2's 09:00; n6 (date only) could have come out any time that day: not yet.
    assert ids(src.news(["AAA"], "2024-01-30T08:00:00+00:00", 10)) == ["n3", "n1"]
    assert ids(src.news(["AAA"], "2024-01-30T10:00:00Z", 10)) == ["n2", "n3", "n1"]
    # Timestamps in other zones compare as instants: 04:30 New York is 09:30 UTC.
    assert ids(src.news(["AAA"], "2024-01-30T04:30:00-05:00", 1)) == ["n2"]


def test_file_news_bad_line_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    good = json.dumps(NEWS[0])
    path.write_text(f"{good}\n\n{{not json\n")
    with pytest.raises(NewsError, match=r"bad\.jsonl line 3: not a valid news item"):
        FileNews(path)
    path.write_text(f"{good}\n{json.dumps({'id': 'x', 'created_at': '2024-01-01'})}\n")
    with pytest.raises(NewsError, match=r"line 2: .*headline: Field required"):
        FileNews(path)
    path.write_text(json.dumps({**NEWS[0], "created_at": "yesterday"}) + "\n")
    with pytest.raises(NewsError, match=r"line 1: .*created_at: .*not an ISO date"):
        FileNews(path)


def test_file_news_missing_file(tmp_path: Path) -> None:
    with pytest.raises(NewsError, match="cannot read news file"):
        FileNews(tmp_path / "nope.jsonl")


def test_no_news_is_always_empty() -> None:
    assert NoNews().news(["AAA"], AS_OF, 5) == []
