"""screener: steps the clock, books what the broker filled since the last cycle, asks
the market for movers and builds the cycle's view.

It is the first node of every cycle, so it also replaces every per-cycle field, and on
the very first cycle opens the books.
"""

from __future__ import annotations

from typing import Any

from langgraph.runtime import Runtime
from langgraph.types import Overwrite

from mytrader.domain.book import Book
from mytrader.domain.models import Benchmark, PendingOrder
from mytrader.graph.account_check import cycle_check
from mytrader.graph.context import ArenaContext, ArenaServices, StateNode
from mytrader.graph.settle import settle
from mytrader.graph.state import ArenaState
from mytrader.graph.typed import dump, fresh, shared_list
from mytrader.ports.broker import Broker
from mytrader.tools.market_view import build_market_view


def per_cycle_reset() -> dict[str, Any]:
    return {
        "decisions": Overwrite({}),
        "usage": Overwrite({}),
        "logs": Overwrite([]),
        "vote": None,
        "orders": [],
        "settled": [],
        "market": None,
    }


def benchmark_of(broker: Broker, symbol: str, as_of: str) -> Benchmark | None:
    """The benchmark's last close at `as_of` (None if the broker has no such symbol)."""
    if not symbol:
        return None
    bars = broker.bars([symbol], as_of, 1).get(symbol) or []
    return Benchmark(symbol=symbol, price=bars[-1].close) if bars else None


def make_screener(services: ArenaServices) -> StateNode:
    broker = services.broker

    def screener(state: ArenaState, runtime: Runtime[ArenaContext]) -> dict[str, Any]:
        settings = services.knobs(runtime)
        books = dict(state.get("books") or {})
        for account in settings.accounts:
            if account not in books:
                books[account] = Book.open(account, settings.starting_cash).model_dump(mode="json")
        as_of = broker.next_session(state.get("as_of"))
        if as_of is None:
            return {
                **per_cycle_reset(),
                "books": books,
                "status": "exhausted",
                "message": f"market history exhausted after {state.get('as_of')}: "
                "no trading day left to step to (mytrader reset starts over)",
            }
        # Fills since the last cycle are booked first: the agents see today's books.
        open_books = {a: fresh(Book, b) for a, b in books.items()}  # settle books fills
        pending = shared_list(PendingOrder, state.get("pending"))
        cycle = (state.get("cycle") or 0) + 1
        still_open, settled = settle(
            broker, open_books, pending, as_of, cycle, settings.fee_per_trade
        )
        # Live: the books' sum must be the broker's account, or no new BUY this cycle.
        checked = cycle_check(broker, open_books, state.get("broker_base"))
        held = {s for b in open_books.values() for s in b.positions}
        shown = sorted(held | set(settings.watchlist_symbols))
        view = build_market_view(broker, as_of, shown, settings.movers_top)
        view.benchmark = benchmark_of(broker, settings.benchmark_symbol, as_of)
        return {
            **per_cycle_reset(),
            "books": {a: b.model_dump(mode="json") for a, b in open_books.items()},
            "pending": [dump(p) for p in still_open],
            "settled": [p.model_dump(mode="json") for p in settled],
            **checked,
            "cycle": cycle,
            "as_of": as_of,
            "status": "trading",
            "message": "",
            "market": view.model_dump(mode="json"),
        }

    return screener
