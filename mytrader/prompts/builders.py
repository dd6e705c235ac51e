"""The prompts themselves: a decision's and a self-critique's facts (payloads) and
messages, and the repair message after an answer that did not parse.

The facts go to the model as one fenced JSON block (`text.dump_json`); house models
read that same block back with `extract_payload`, so offline and real models see
exactly the same prompt.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage

from mytrader.domain.book import Book
from mytrader.domain.limits import RiskLimits
from mytrader.domain.models import CritiqueNote, MarketView
from mytrader.domain.risk import max_buy_qty
from mytrader.prompts.facts import (
    book_summary,
    critique_positions,
    held_prices,
    herd,
    market,
    money,
    positions,
    trade,
)
from mytrader.prompts.text import Rendered, dump_json, render, system_prompt

_MARKETS: dict[str, Rendered] = {}  # the last few views' sections, by content
_MARKETS_KEPT = 8
_MARKETS_LOCK = threading.Lock()


def _market_section(view: MarketView) -> Rendered:
    # Keyed on the view's whole content: a pure function's memo, never stale.
    key = view.model_dump_json()
    section = _MARKETS.get(key)
    if section is None:
        section = Rendered(market(view), level=1)
        with _MARKETS_LOCK:  # the personas' turns run in parallel
            if len(_MARKETS) >= _MARKETS_KEPT:
                del _MARKETS[next(iter(_MARKETS))]  # the oldest (dicts keep their order)
            _MARKETS[key] = section
    return section


def _messages(
    text: str,
    payload: dict[str, Any],
    persona: str,
    personas_dir: str | Path | None,
    **values: object,
) -> list[BaseMessage]:
    """The system text and the filled human text of prompt `text`."""
    human = render(
        text,
        agent=payload.get("agent", persona),
        cycle=payload.get("cycle", "?"),
        as_of=payload.get("as_of", "?"),
        payload=dump_json(payload),
        **values,
    )
    return [
        SystemMessage(content=system_prompt(persona, personas_dir)),
        HumanMessage(content=human),
    ]


# --- decision ----------------------------------------------------------------------------


def decision_payload(
    *,
    agent: str,
    cycle: int,
    view: MarketView,
    book: Book,
    critique: CritiqueNote | None,
    limits: RiskLimits,
) -> dict[str, Any]:
    """Every fact of one decision prompt, JSON-able (Decimals as strings).

    max_buy_qty is the risk gate's own sizing (`risk.max_buy_qty`), so a BUY of it passes
    the gate (cash checked at the marketable limit price, the position within the cap)."""
    prices = held_prices(view, book)
    equity = book.equity(prices)
    held = positions(book, prices)
    affordable = {
        sym: max_buy_qty(
            cash=book.cash, price=sv.price, equity=equity, held=book.qty(sym), limits=limits
        )
        for sym, sv in sorted(view.symbols.items())
    }
    summary = book_summary(book, equity)
    return {
        "agent": agent,
        "cycle": cycle,
        "as_of": view.as_of,
        "fee_per_trade": money(limits.fee_per_trade),
        "max_position_pct": str(limits.max_position_pct),
        "book": {**summary, "positions": held},
        "max_buy_qty": affordable,
        # the symbols the collaborative vote asks a stance on
        "shortlist": sorted(view.symbols),
        "last_critique": critique.text if critique else None,
        "recent_trades": [trade(t) for t in book.recent],
        "market": _market_section(view),  # level 1 of the payload, as dump_json puts it
    }


def decision_messages(
    payload: dict[str, Any], persona: str, personas_dir: str | Path | None = None
) -> list[BaseMessage]:
    return _messages("decision", payload, persona, personas_dir)


# --- critique ----------------------------------------------------------------------------


def critique_payload(
    *,
    agent: str,
    cycle: int,
    view: MarketView,
    book: Book,
    critique: CritiqueNote | None,
    trades_since: int,
) -> dict[str, Any]:
    """Every fact of one self-critique prompt, JSON-able (Decimals as strings)."""
    equity = book.equity(held_prices(view, book))
    summary = book_summary(book, equity)
    summary["net_realized_after_fees"] = money(book.realized_pnl - book.fees)
    return {
        "agent": agent,
        "cycle": cycle,
        "as_of": view.as_of,
        "trades_since_critique": trades_since,
        "book": summary,
        "positions": critique_positions(view, book),
        "recent_trades": [trade(t) for t in book.recent],
        "herd": herd(view, book),
        "previous_critique": critique.text if critique else None,
    }


def critique_messages(
    payload: dict[str, Any], persona: str, personas_dir: str | Path | None = None
) -> list[BaseMessage]:
    trades_since = payload.get("trades_since_critique", "?")
    return _messages("critique", payload, persona, personas_dir, trades_since=trades_since)


def repair_message(error: str) -> HumanMessage:
    return HumanMessage(content=render("repair", error=error))
