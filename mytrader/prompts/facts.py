"""The numbers a prompt shows, computed in code (Decimal), never by the model: book
figures, profit and loss, open positions priced from the view, sell signals, the herd,
the market's movers and symbols. Each function returns a JSON-able piece of a payload
(Decimals as strings); `builders` assembles them."""

from __future__ import annotations

from decimal import Decimal
from functools import cache
from typing import Any

from mytrader.domain.book import Book, TradeOutcome
from mytrader.domain.models import MarketView, Mover, SymbolView
from mytrader.domain.money import CENT, HUNDRED
from mytrader.domain.prompt_format import BIG_GAIN_PCT, BIG_LOSS_PCT, OVERBOUGHT_RSI

# --- money and numbers as JSON -----------------------------------------------------------


def money(value: Decimal) -> str:
    return str(value.quantize(CENT))


def _pct(part: Decimal, whole: Decimal) -> str | None:
    return str((part / whole * HUNDRED).quantize(CENT)) if whole else None


def _round(name: str, value: float) -> float:
    # Percentages and RSI read fine at 2 decimals; MACD of a cheap stock needs 4.
    return round(value, _digits(name))


@cache
def _digits(name: str) -> int:
    return 2 if name.endswith("_pct") or name == "rsi14" else 4


# --- book facts --------------------------------------------------------------------------


def held_prices(view: MarketView, book: Book) -> dict[str, Decimal]:
    """Held symbols priced from the view; a symbol the view lacks is left out (marked at cost)."""
    prices = {sym: view.price(sym) for sym in book.positions}
    return {sym: price for sym, price in prices.items() if price is not None}


def positions(book: Book, prices: dict[str, Decimal]) -> dict[str, dict[str, Any]]:
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
            "market_value": money(value),
            "unrealized_pnl": money(pnl),
            "unrealized_pct": _pct(pnl, pos.cost_basis) or "0.00",
        }
    return out


def _win_rate_pct(book: Book) -> float | None:
    rate = book.win_rate()
    return None if rate is None else round(rate * 100, 1)


def book_summary(book: Book, equity: Decimal) -> dict[str, Any]:
    return {
        "cash": money(book.cash),
        "equity": money(equity),
        "starting_cash": money(book.starting_cash),
        "return_pct": _pct(equity - book.starting_cash, book.starting_cash),
        "realized_pnl": money(book.realized_pnl),
        "fees": money(book.fees),
        "trades": book.trades,
        "wins": book.wins,
        "losses": book.losses,
        "win_rate": _win_rate_pct(book),
    }


def trade(t: TradeOutcome) -> dict[str, Any]:
    return {
        "cycle": t.cycle,
        "side": t.side,
        "symbol": t.symbol,
        "qty": t.qty,
        "price": str(t.price),
        "realized_pnl": None if t.realized_pnl is None else money(t.realized_pnl),
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


def market(view: MarketView) -> dict[str, Any]:
    movers = view.movers
    return {
        "movers": {
            "gainers": [_mover(m) for m in movers.gainers],
            "losers": [_mover(m) for m in movers.losers],
            "most_active": [_mover(m) for m in movers.most_active],
        },
        "symbols": {sym: _symbol(view.symbols[sym]) for sym in sorted(view.symbols)},
    }


# --- critique facts ----------------------------------------------------------------------


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


def critique_positions(view: MarketView, book: Book) -> dict[str, dict[str, Any]]:
    """The open positions with their indicators and sell signals."""
    out = positions(book, held_prices(view, book))
    for sym, pos in out.items():
        sv = view.symbols.get(sym)
        if sv is not None:
            pos["rsi14"] = None if sv.rsi14 is None else round(sv.rsi14, 2)
            pos["macd_hist"] = None if sv.macd_hist is None else round(sv.macd_hist, 4)
        pos["sell_signals"] = _sell_signals(pos, sv)
    return out


def herd(view: MarketView, book: Book) -> dict[str, Any]:
    # The book keeps no snapshot of the market at each buy, so "herd" is measured against
    # today's crowd: recent buys that are now among the top gainers or most active names.
    crowd = {m.symbol for m in (*view.movers.gainers, *view.movers.most_active)}
    buys = [t.symbol for t in book.recent if t.side == "buy"]
    return {
        "recent_buys": buys,
        "recent_buys_in_todays_crowd": [sym for sym in buys if sym in crowd],
        "todays_crowd": sorted(crowd),
    }
