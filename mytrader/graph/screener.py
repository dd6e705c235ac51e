"""screener: steps the clock, asks the market for movers and builds the cycle's view.

It is the first node of every cycle, so it also replaces every per-cycle field, and on
the very first cycle opens the books.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from langgraph.types import Overwrite

from mytrader.graph.context import ArenaServices
from mytrader.market.view import build_market_view
from mytrader.state import ArenaState, Book


def per_cycle_reset() -> dict[str, Any]:
    return {
        "decisions": Overwrite({}),
        "usage": Overwrite({}),
        "logs": Overwrite([]),
        "vote": None,
        "orders": [],
        "market": None,
    }


def make_screener(services: ArenaServices) -> Callable[[ArenaState], dict[str, Any]]:
    settings, broker = services.settings, services.broker

    def screener(state: ArenaState) -> dict[str, Any]:
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
        held = {s for b in books.values() for s in (b.get("positions") or {})}
        shown = sorted(held | set(settings.watchlist_symbols))
        view = build_market_view(broker, as_of, shown, settings.movers_top)
        return {
            **per_cycle_reset(),
            "books": books,
            "cycle": (state.get("cycle") or 0) + 1,
            "as_of": as_of,
            "status": "trading",
            "message": "",
            "market": view.model_dump(mode="json"),
        }

    return screener
