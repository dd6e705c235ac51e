"""Indicators for every bar of every symbol, prepared once from the float64 columns.

The market view shows, per symbol, indicators over the last LOOKBACK bars up to `as_of`.
Rebuilding them each day from Decimal bars costs ~1.5 ms a symbol; a 20-year backtest of
the S&P 500 asks for ~100,000 of them. Here a symbol's whole series is computed once, on
first use, with the same definition — every value is a function of the window of LOOKBACK
closes ending at that bar, and of nothing after it (causal, so no look-ahead):

- moving averages, Bollinger bands, returns, volatility and the window's high are sliding
  window operations over the same numbers in the same order as `indicators`, hence equal;
- MACD and Wilder's RSI are recursions seeded at the window's start, which makes them
  linear in the window's closes (MACD) or in its gains and losses (RSI's averages). Their
  weights are found once by running `indicators` on unit vectors, then applied to every
  window as one matrix product. Equal to the reference up to float rounding (1e-12).

Bars before the first full window see the whole series so far, as the reference does.
Prices stay exact: the view's `price` is the bar's Decimal close.
"""

from __future__ import annotations

import threading
import weakref
from functools import cache

import numpy as np
from numpy.lib.stride_tricks import as_strided

from mytrader.adapters.bars import FloatArray, PriceHistory, SymbolSeries, to_decimal
from mytrader.domain import indicators as ind
from mytrader.domain.models import SymbolView

RSI_N = 14


def _windows(x: FloatArray, n: int) -> FloatArray:
    step = x.strides[0]
    return as_strided(x, shape=(len(x) - n + 1, n), strides=(step, step), writeable=False)


@cache
def _macd_kernels(w: int) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Weights of (macd line, signal, previous histogram) at the end of a w-close window."""
    basis = np.eye(w)
    line = np.empty(w)
    sig = np.empty(w)
    prev = np.empty(w)
    for i in range(w):
        m, s, h = ind.macd(basis[i])
        line[i], sig[i], prev[i] = m[-1], s[-1], h[-2]
    return line, sig, prev


@cache
def _wilder_kernel(m: int, n: int = RSI_N) -> FloatArray:
    """Weights of Wilder's average at the end of m gains (or losses), as `ind.rsi` runs it."""
    out = np.empty(m)
    for i in range(m):
        g = np.zeros(m)
        g[i] = 1.0
        avg = float(g[:n].mean())
        for v in g[n:].tolist():
            avg = (avg * (n - 1) + v) / n
        out[i] = avg
    return out


class PreparedSeries:
    """One symbol's indicators at every bar (NaN where the reference gives none)."""

    def __init__(self, s: SymbolSeries, lookback: int) -> None:
        x = np.ascontiguousarray(s.close, dtype=np.float64)
        n, w = len(x), lookback
        nan = np.full(n, np.nan)
        self.sma20, self.sma50 = ind.sma(x, 20), ind.sma(x, 50)
        self.bb_upper, self.bb_mid, self.bb_lower = ind.bollinger(x, 20, 2.0)
        self.ret5, self.ret20 = ind.returns(x, 5), ind.returns(x, 20)
        self.vol20 = ind.volatility(x, 20)
        self.macd, self.signal, self.hist_prev = nan.copy(), nan.copy(), nan.copy()
        self.rsi, self.high = nan.copy(), nan.copy()
        # Bars before the first full window: their window is the whole series so far, and
        # the recursions run from its first bar, exactly as the reference does on it.
        head = min(n, w - 1)
        if head:
            m, sg, h = ind.macd(x[:head])
            self.macd[:head], self.signal[:head] = m, sg
            self.hist_prev[1:head] = h[:-1]
            self.rsi[:head] = ind.rsi(x[:head], RSI_N)
            self.high[:head] = np.maximum.accumulate(x[:head])
        if n >= w:
            win = _windows(x, w)
            line_k, sig_k, prev_k = _macd_kernels(w)
            self.macd[w - 1 :] = win @ line_k
            self.signal[w - 1 :] = win @ sig_k
            self.hist_prev[w - 1 :] = win @ prev_k
            self.high[w - 1 :] = win.max(axis=1)
            delta = np.diff(x)
            gains, losses = np.maximum(delta, 0.0), np.maximum(-delta, 0.0)
            k = _wilder_kernel(w - 1)
            up, down = _windows(gains, w - 1) @ k, _windows(losses, w - 1) @ k
            with np.errstate(divide="ignore", invalid="ignore"):
                value = 100.0 - 100.0 / (1.0 + up / down)
            value[down == 0.0] = 100.0
            value[(down == 0.0) & (up == 0.0)] = 50.0
            self.rsi[w - 1 :] = value
        self.hist = self.macd - self.signal
        self.close = x
        # One row per bar, so a view reads its numbers with one `tolist()`.
        self.table = np.ascontiguousarray(
            np.column_stack([getattr(self, f) for f in FIELDS]), dtype=np.float64
        )
        for f in FIELDS:  # the table holds them now: one copy per symbol, not two
            delattr(self, f)


FIELDS = (
    "close", "rsi", "macd", "signal", "hist", "hist_prev", "bb_upper", "bb_mid", "bb_lower",
    "sma20", "sma50", "ret5", "ret20", "vol20", "high",
)  # fmt: skip


def _last(v: float, digits: int) -> float | None:
    return None if v != v or v in (_INF, -_INF) else round(v, digits)


def _pct(v: float) -> float | None:
    return None if v != v or v in (_INF, -_INF) else round(v * 100.0, 2) + 0.0


_INF = float("inf")


class PreparedMarket:
    """Per-symbol prepared series of one PriceHistory, built on first use; thread-safe."""

    def __init__(self, history: PriceHistory, lookback: int) -> None:
        self.history = history
        self.lookback = lookback
        self._series: dict[str, PreparedSeries] = {}
        self._lock = threading.Lock()

    def series(self, symbol: str) -> PreparedSeries | None:
        got = self._series.get(symbol)
        if got is None:
            raw = self.history.series(symbol)
            if raw is None:
                return None
            got = PreparedSeries(raw, self.lookback)
            with self._lock:
                got = self._series.setdefault(symbol, got)
        return got

    def symbol_view(self, symbol: str, as_of: str, sector: str) -> SymbolView | None:
        """The view of `symbol` at its last bar <= as_of; None without one."""
        raw = self.history.series(symbol)
        if raw is None:
            return None
        t = raw.count_before(self.history.cal_end(as_of)) - 1
        if t < 0:
            return None
        price = to_decimal(float(raw.close[t]))
        volume = int(raw.volume[t])
        p = self.series(symbol)
        assert p is not None  # the raw series exists
        prev = float(raw.close[t - 1]) if t else 0.0
        close, rsi, macd, sig, hist, hist_prev, bbu, bbm, bbl, s20, s50, r5, r20, v20, high = (
            p.table[t].tolist()
        )
        return SymbolView.model_construct(  # every field is set here, from checked floats
            symbol=symbol,
            sector=sector,
            price=price,
            change_pct=(_pct(close / prev - 1.0) or 0.0) if t else 0.0,
            volume=volume,
            rsi14=_last(rsi, 2),
            macd=_last(macd, 4),
            macd_signal=_last(sig, 4),
            macd_hist=_last(hist, 4),
            macd_hist_prev=_last(hist_prev, 4),
            bb_upper=_last(bbu, 2),
            bb_mid=_last(bbm, 2),
            bb_lower=_last(bbl, 2),
            sma20=_last(s20, 2),
            sma50=_last(s50, 2),
            ret_5d_pct=_pct(r5),
            ret_20d_pct=_pct(r20),
            volatility_20d_pct=_pct(v20),
            high_lookback=round(high, 2),
            drawdown_pct=_pct(min(close / high - 1.0, 0.0)),
        )


_PREPARED: weakref.WeakKeyDictionary[PriceHistory, dict[int, PreparedMarket]] = (
    weakref.WeakKeyDictionary()
)
_PREPARED_LOCK = threading.Lock()


def prepared_for(history: PriceHistory, lookback: int) -> PreparedMarket:
    """One PreparedMarket per history and window, shared by every broker over it."""
    with _PREPARED_LOCK:
        per = _PREPARED.setdefault(history, {})
        if lookback not in per:
            per[lookback] = PreparedMarket(history, lookback)
        return per[lookback]
