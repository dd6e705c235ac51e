"""Prompt texts (markdown files beside this module) and the facts that fill them.

Arithmetic stays out of the LLM: every number a prompt shows — book figures, profit and
loss, the largest affordable quantity, sell signals — is computed here, in Decimal, and
handed over as a fenced JSON block. House models read that same block back with
`extract_payload`, so offline and real models see exactly the same prompt.
"""

from __future__ import annotations

import json
import re
import threading
from decimal import Decimal
from functools import cache, lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage

from mytrader.domain.book import Book, TradeOutcome
from mytrader.domain.limits import RiskLimits
from mytrader.domain.models import CritiqueNote, MarketView, Mover, SymbolView
from mytrader.domain.money import CENT, HUNDRED
from mytrader.domain.personas import persona_prompt_path as persona_file
from mytrader.domain.prompt_format import (
    BIG_GAIN_PCT,
    BIG_LOSS_PCT,
    CRITIQUE_MARKER,
    OVERBOUGHT_RSI,
    extract_payload,
)
from mytrader.domain.risk import max_buy_qty

__all__ = [
    "CRITIQUE_MARKER",
    "critique_messages",
    "critique_payload",
    "decision_messages",
    "decision_payload",
    "extract_payload",
    "load_prompt",
    "persona_prompt_path",
    "render",
    "repair_message",
    "system_prompt",
]


_PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")


# --- texts -------------------------------------------------------------------------------


@cache
def load_prompt(name: str) -> str:
    """The text of `prompts/<name>.md` (the .md suffix is optional)."""
    filename = name if name.endswith(".md") else f"{name}.md"
    return resources.files(__name__).joinpath(filename).read_text(encoding="utf-8")


def render(name: str, **values: object) -> str:
    """Fill `{name}` placeholders in one pass.

    Only lower-case identifiers in braces are placeholders, so the JSON examples in the
    texts (`{"decision": ...}`) stay as they are, and inserted values (JSON payloads,
    error messages) are never re-scanned. A placeholder without a value is a bug: KeyError.
    """
    text = load_prompt(name)

    def fill(match: re.Match[str]) -> str:
        return str(values[match[1]])

    return _PLACEHOLDER.sub(fill, text)


def persona_prompt_path(persona: str, personas_dir: str | Path | None) -> Path | None:
    """The persona's prompt file: PERSONAS_DIR first, then the texts beside this module."""
    return persona_file(persona, personas_dir, Path(__file__).parent)


def system_prompt(persona: str, personas_dir: str | Path | None = None) -> str:
    """The shared system text and the persona's own (PERSONAS_DIR first, then packaged)."""
    path = persona_prompt_path(persona, personas_dir)
    if path is None:
        raise ValueError(f"no prompt file persona_{persona}.md (ROSTER, PERSONAS_DIR)")
    st = path.stat()
    return _system_text(path, st.st_mtime_ns, st.st_size)


@lru_cache(maxsize=64)
def _system_text(path: Path, mtime_ns: int, size: int) -> str:
    # Keyed on the file's stamp: every turn asks, an edited persona file is read again,
    # and an unchanged one is not read three times a cycle.
    return load_prompt("system").rstrip() + "\n\n" + path.read_text(encoding="utf-8")


# --- money and numbers as JSON -----------------------------------------------------------


def _money(value: Decimal) -> str:
    return str(value.quantize(CENT))


def _pct(part: Decimal, whole: Decimal) -> str | None:
    return str((part / whole * HUNDRED).quantize(CENT)) if whole else None


def _round(name: str, value: float) -> float:
    # Percentages and RSI read fine at 2 decimals; MACD of a cheap stock needs 4.
    return round(value, _digits(name))


@cache
def _digits(name: str) -> int:
    return 2 if name.endswith("_pct") or name == "rsi14" else 4


def dump_json(payload: dict[str, Any]) -> str:
    """JSON with one line per flat object (a symbol, a trade): compact, still readable."""
    return _dump(payload, 0)


_CONTAINERS = (dict, list)
# One encoder: json.dumps builds a new one at every call that passes an option.
_encode = json.JSONEncoder(ensure_ascii=False).encode


def _dump(value: Any, level: int) -> str:
    if isinstance(value, _Rendered) and value.level == level:
        return value.text
    if not isinstance(value, _CONTAINERS):
        return _encode(value)
    children = value.values() if isinstance(value, dict) else value
    if not value or not any(isinstance(v, _CONTAINERS) for v in children):
        return _encode(value)  # flat: one line
    pad, inner = "  " * level, "  " * (level + 1)
    if isinstance(value, list):
        items = [inner + _dump(v, level + 1) for v in value]
        return "[\n" + ",\n".join(items) + "\n" + pad + "]"
    rows = [f"{inner}{json.dumps(k)}: {_dump(v, level + 1)}" for k, v in value.items()]
    return "{\n" + ",\n".join(rows) + "\n" + pad + "}"


# --- book facts --------------------------------------------------------------------------


def _held_prices(view: MarketView, book: Book) -> dict[str, Decimal]:
    """Held symbols priced from the view; a symbol the view lacks is left out (marked at cost)."""
    prices = {sym: view.price(sym) for sym in book.positions}
    return {sym: price for sym, price in prices.items() if price is not None}


def _positions(book: Book, prices: dict[str, Decimal]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for sym in sorted(book.positions):
        pos = book.positions[sym]
        price = prices.get(sym, pos.avg_cost)
        value = pos.qty * price if sym in prices else pos.cost_basis
        pnl = value - pos.cost_basis
        out[sym] = {
            "qty": pos.qty,
            "avg_cost": str(pos.avg_cost),
            "price": str(price),
            "market_value": _money(value),
            "unrealized_pnl": _money(pnl),
            "unrealized_pct": _pct(pnl, pos.cost_basis) or "0.00",
        }
    return out


def _win_rate_pct(book: Book) -> float | None:
    rate = book.win_rate()
    return None if rate is None else round(rate * 100, 1)


def _book_summary(book: Book, equity: Decimal) -> dict[str, Any]:
    return {
        "cash": _money(book.cash),
        "equity": _money(equity),
        "starting_cash": _money(book.starting_cash),
        "return_pct": _pct(equity - book.starting_cash, book.starting_cash),
        "realized_pnl": _money(book.realized_pnl),
        "fees": _money(book.fees),
        "trades": book.trades,
        "wins": book.wins,
        "losses": book.losses,
        "win_rate": _win_rate_pct(book),
    }


def _trade(t: TradeOutcome) -> dict[str, Any]:
    return {
        "cycle": t.cycle,
        "side": t.side,
        "symbol": t.symbol,
        "qty": t.qty,
        "price": str(t.price),
        "realized_pnl": None if t.realized_pnl is None else _money(t.realized_pnl),
    }


# --- market facts ------------------------------------------------------------------------


_SHOWN = tuple(n for n in SymbolView.model_fields if n not in ("symbol", "sector", "price"))


def _symbol(view: SymbolView) -> dict[str, Any]:
    out: dict[str, Any] = {"sector": view.sector, "price": str(view.price)}
    for name in _SHOWN:  # the fields in their declared order, as model_dump gives them
        value = getattr(view, name)
        if value is not None:
            out[name] = _round(name, value) if isinstance(value, float) else value
    return out


def _mover(m: Mover) -> dict[str, Any]:
    return {
        "symbol": m.symbol,
        "price": str(m.price),
        "change_pct": round(m.change_pct, 2),
        "volume": m.volume,
    }


class _Rendered(dict[str, Any]):
    """A payload section with its JSON text made once: the three personas of a cycle see
    the same market, so it is rendered once, not three times. Read-only."""

    def __init__(self, value: dict[str, Any], level: int) -> None:
        super().__init__(value)
        self.level = level
        self.text = _dump(value, level)


_MARKETS: dict[str, _Rendered] = {}  # the last few views' sections, by content
_MARKETS_KEPT = 8
_MARKETS_LOCK = threading.Lock()


def _market_section(view: MarketView) -> _Rendered:
    # Keyed on the view's whole content: a pure function's memo, never stale.
    key = view.model_dump_json()
    section = _MARKETS.get(key)
    if section is None:
        section = _Rendered(_market(view), level=1)
        with _MARKETS_LOCK:  # the personas' turns run in parallel
            if len(_MARKETS) >= _MARKETS_KEPT:
                del _MARKETS[next(iter(_MARKETS))]  # the oldest (dicts keep their order)
            _MARKETS[key] = section
    return section


def _market(view: MarketView) -> dict[str, Any]:
    movers = view.movers
    return {
        "movers": {
            "gainers": [_mover(m) for m in movers.gainers],
            "losers": [_mover(m) for m in movers.losers],
            "most_active": [_mover(m) for m in movers.most_active],
        },
        "symbols": {sym: _symbol(view.symbols[sym]) for sym in sorted(view.symbols)},
    }


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
    prices = _held_prices(view, book)
    equity = book.equity(prices)
    positions = _positions(book, prices)
    affordable = {
        sym: max_buy_qty(
            cash=book.cash, price=sv.price, equity=equity, held=book.qty(sym), limits=limits
        )
        for sym, sv in sorted(view.symbols.items())
    }
    summary = _book_summary(book, equity)
    return {
        "agent": agent,
        "cycle": cycle,
        "as_of": view.as_of,
        "fee_per_trade": _money(limits.fee_per_trade),
        "max_position_pct": str(limits.max_position_pct),
        "book": {**summary, "positions": positions},
        "max_buy_qty": affordable,
        # the symbols the collaborative vote asks a stance on
        "shortlist": sorted(view.symbols),
        "last_critique": critique.text if critique else None,
        "recent_trades": [_trade(t) for t in book.recent],
        "market": _market_section(view),  # level 1 of the payload, as dump_json puts it
    }


def decision_messages(
    payload: dict[str, Any], persona: str, personas_dir: str | Path | None = None
) -> list[BaseMessage]:
    human = render(
        "decision",
        agent=payload.get("agent", persona),
        cycle=payload.get("cycle", "?"),
        as_of=payload.get("as_of", "?"),
        payload=dump_json(payload),
    )
    return [
        SystemMessage(content=system_prompt(persona, personas_dir)),
        HumanMessage(content=human),
    ]


# --- critique ----------------------------------------------------------------------------


def _sell_signals(pos: dict[str, Any], sv: SymbolView | None) -> list[str]:
    """Persona-neutral warnings on one open position, stated as facts."""
    signals = []
    pct = Decimal(pos["unrealized_pct"])
    if sv is not None and sv.rsi14 is not None and sv.rsi14 > OVERBOUGHT_RSI:
        signals.append(f"RSI {sv.rsi14:.1f} above {OVERBOUGHT_RSI:.0f} (overbought)")
    if sv is not None and sv.macd_hist is not None and sv.macd_hist_prev is not None:
        if sv.macd_hist < 0 <= sv.macd_hist_prev:
            signals.append("MACD histogram turned negative")
    if pct <= BIG_LOSS_PCT:
        signals.append(f"down {pct}% from cost (big loss)")
    if pct >= BIG_GAIN_PCT:
        signals.append(f"up {pct}% from cost (gain not taken)")
    return signals


def _critique_positions(view: MarketView, book: Book) -> dict[str, dict[str, Any]]:
    positions = _positions(book, _held_prices(view, book))
    for sym, pos in positions.items():
        sv = view.symbols.get(sym)
        if sv is not None:
            pos["rsi14"] = None if sv.rsi14 is None else round(sv.rsi14, 2)
            pos["macd_hist"] = None if sv.macd_hist is None else round(sv.macd_hist, 4)
        pos["sell_signals"] = _sell_signals(pos, sv)
    return positions


def _herd(view: MarketView, book: Book) -> dict[str, Any]:
    # The book keeps no snapshot of the market at each buy, so "herd" is measured against
    # today's crowd: recent buys that are now among the top gainers or most active names.
    crowd = {m.symbol for m in (*view.movers.gainers, *view.movers.most_active)}
    buys = [t.symbol for t in book.recent if t.side == "buy"]
    return {
        "recent_buys": buys,
        "recent_buys_in_todays_crowd": [sym for sym in buys if sym in crowd],
        "todays_crowd": sorted(crowd),
    }


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
    equity = book.equity(_held_prices(view, book))
    summary = _book_summary(book, equity)
    summary["net_realized_after_fees"] = _money(book.realized_pnl - book.fees)
    return {
        "agent": agent,
        "cycle": cycle,
        "as_of": view.as_of,
        "trades_since_critique": trades_since,
        "book": summary,
        "positions": _critique_positions(view, book),
        "recent_trades": [_trade(t) for t in book.recent],
        "herd": _herd(view, book),
        "previous_critique": critique.text if critique else None,
    }


def critique_messages(
    payload: dict[str, Any], persona: str, personas_dir: str | Path | None = None
) -> list[BaseMessage]:
    human = render(
        "critique",
        agent=payload.get("agent", persona),
        cycle=payload.get("cycle", "?"),
        as_of=payload.get("as_of", "?"),
        trades_since=payload.get("trades_since_critique", "?"),
        payload=dump_json(payload),
    )
    return [
        SystemMessage(content=system_prompt(persona, personas_dir)),
        HumanMessage(content=human),
    ]


def repair_message(error: str) -> HumanMessage:
    return HumanMessage(content=render("repair", error=error))
