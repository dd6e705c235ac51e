"""The market view every agent sees in a cycle, built from the broker's reads at `as_of`.

Everything comes from `broker.movers(as_of, ...)` and one `broker.bars(..., as_of, ...)`
call, both of which return nothing dated after `as_of`: the view cannot look ahead by
construction. Floats are rounded so prompts stay short.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from decimal import Decimal

import numpy as np
import numpy.typing as npt

from mytrader.domain import indicators as ind
from mytrader.domain.models import MarketView, Movers, SymbolView
from mytrader.ports.broker import Bar, Broker

PCT_DIGITS = 2  # percentages and RSI
LEVEL_DIGITS = 2  # price levels (SMA, Bollinger, high)
MACD_DIGITS = 4  # MACD values are small differences of prices
LOOKBACK = 120  # bars behind every indicator (MACD and SMA 50 need at least 60)


def build_market_view(
    broker: Broker, as_of: str, extra_symbols: Iterable[str], top: int, lookback: int = LOOKBACK
) -> MarketView:
    """Movers of the session plus every symbol shown (movers and `extra_symbols`, e.g. the
    books' holdings), each with indicators over its last `lookback` bars up to `as_of`.
    Symbols without any bar up to `as_of` are left out."""
    movers = broker.movers(as_of, top)
    wanted = sorted(_mover_symbols(movers) | set(extra_symbols))
    prepare = getattr(broker, "prepared", None)
    if prepare is not None:  # the simulated exchange: indicators prepared once per run
        market = prepare(lookback)
        views = {}
        for sym in wanted:
            info = broker.asset(sym)
            v = market.symbol_view(sym, as_of, info.sector if info else "other")
            if v is not None:
                views[sym] = v
        return MarketView(as_of=as_of, movers=movers, symbols=views)
    bars = broker.bars(wanted, as_of, lookback) if wanted else {}
    symbols: dict[str, SymbolView] = {}
    for sym in wanted:
        sym_bars = bars.get(sym) or []
        if sym_bars:
            info = broker.asset(sym)
            symbols[sym] = symbol_view(sym, sym_bars, info.sector if info else "other")
    return MarketView(as_of=as_of, movers=movers, symbols=symbols)


def _mover_symbols(movers: Movers) -> set[str]:
    groups = (movers.gainers, movers.losers, movers.most_active)
    return {m.symbol for group in groups for m in group}


def symbol_view(symbol: str, bars: Sequence[Bar], sector: str = "other") -> SymbolView:
    """Indicators at the last of `bars` (oldest first, at least one bar)."""
    closes = np.fromiter((float(b.close) for b in bars), dtype=np.float64, count=len(bars))
    return closes_view(symbol, closes, bars[-1].close, bars[-1].volume, sector)


def closes_view(
    symbol: str, closes: npt.NDArray[np.float64], close: Decimal, volume: int, sector: str
) -> SymbolView:
    """Indicators at the last of `closes` (oldest first, at least one)."""
    price = float(closes[-1])
    macd_line, macd_signal, macd_hist = ind.macd(closes)
    upper, mid, lower = ind.bollinger(closes, 20, 2.0)
    high = float(closes.max())
    return SymbolView(
        symbol=symbol,
        sector=sector,
        price=close,
        change_pct=_pct(price / float(closes[-2]) - 1.0) if len(closes) > 1 else 0.0,
        volume=volume,
        rsi14=ind.last(ind.rsi(closes, 14), PCT_DIGITS),
        macd=ind.last(macd_line, MACD_DIGITS),
        macd_signal=ind.last(macd_signal, MACD_DIGITS),
        macd_hist=ind.last(macd_hist, MACD_DIGITS),
        macd_hist_prev=ind.last(macd_hist[:-1], MACD_DIGITS),
        bb_upper=ind.last(upper, LEVEL_DIGITS),
        bb_mid=ind.last(mid, LEVEL_DIGITS),
        bb_lower=ind.last(lower, LEVEL_DIGITS),
        sma20=ind.last(ind.sma(closes, 20), LEVEL_DIGITS),
        sma50=ind.last(ind.sma(closes, 50), LEVEL_DIGITS),
        ret_5d_pct=_pct_or_none(ind.last(ind.returns(closes, 5))),
        ret_20d_pct=_pct_or_none(ind.last(ind.returns(closes, 20))),
        volatility_20d_pct=_pct_or_none(ind.last(ind.volatility(closes, 20))),
        high_lookback=round(high, LEVEL_DIGITS),
        drawdown_pct=_pct(min(price / high - 1.0, 0.0)),
    )


def _pct(fraction: float) -> float:
    # `+ 0.0` turns a rounded -0.0 into 0.0, so equal views compare and print the same.
    return round(fraction * 100.0, PCT_DIGITS) + 0.0


def _pct_or_none(fraction: float | None) -> float | None:
    return None if fraction is None else _pct(fraction)
