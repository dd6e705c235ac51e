"""Technical indicators as pure functions over price series.

Every series function returns a float array aligned with its input, NaN where there is
not enough data yet, and is causal: the value at i depends only on inputs 0..i (so the
value at the last bar never peeks ahead). The recursive ones (EMA, Wilder's RSI) loop in
plain Python floats: for the ~120-bar windows of a market view that is faster than numpy
per-element access.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
from numpy.lib.stride_tricks import as_strided

FloatArray = npt.NDArray[np.float64]
Series = Sequence[float] | npt.NDArray[np.floating[Any]]

NAN = math.nan


def as_array(values: Series) -> FloatArray:
    return np.asarray(values, dtype=np.float64)


def _windows(x: FloatArray, n: int) -> FloatArray:
    """Read-only (len(x)-n+1, n) view of the sliding windows (len(x) >= n).

    `as_strided` rather than `sliding_window_view`: same view, a third of the overhead,
    which matters at ~120 bars times a dozen calls per symbol."""
    step = x.strides[0]
    return as_strided(x, shape=(len(x) - n + 1, n), strides=(step, step), writeable=False)


def _window_mean(w: FloatArray) -> FloatArray:
    # An exact mean per window (not a running cumsum, which drifts on long series).
    return w.sum(axis=1) / w.shape[1]


def _window_std(w: FloatArray, ddof: int) -> FloatArray:
    dev = w - _window_mean(w)[:, None]
    return np.sqrt((dev * dev).sum(axis=1) / (w.shape[1] - ddof))


def _check_window(n: int) -> None:
    if n < 1:
        raise ValueError(f"window must be at least 1, got {n}")


def sma(values: Series, n: int) -> FloatArray:
    """Simple moving average over the last n values (NaN for the first n-1)."""
    _check_window(n)
    x = as_array(values)
    out = np.full(len(x), NAN)
    if len(x) >= n:
        out[n - 1 :] = _window_mean(_windows(x, n))
    return out


def rolling_std(values: Series, n: int, ddof: int = 0) -> FloatArray:
    """Standard deviation over the last n values (ddof=0: population, as Bollinger uses)."""
    _check_window(n)
    x = as_array(values)
    out = np.full(len(x), NAN)
    if len(x) >= n and n > ddof:
        out[n - 1 :] = _window_std(_windows(x, n), ddof)
    return out


def ema(values: Series, n: int) -> FloatArray:
    """Exponential moving average, alpha = 2/(n+1), seeded with the SMA of the first n values.

    Leading NaNs are skipped (so an EMA of a NaN-led series, like the MACD line, starts
    n values after its first valid value); a NaN after that propagates.
    """
    _check_window(n)
    x = as_array(values)
    out = np.full(len(x), NAN)
    missing = np.isnan(x)
    if missing.all():
        return out
    first = int(missing.argmin())  # first valid value
    seed_end = first + n  # exclusive
    if seed_end > len(x):
        return out
    alpha = 2.0 / (n + 1)
    level = float(x[first:seed_end].sum()) / n
    result = [level]
    for v in x[seed_end:].tolist():
        level += alpha * (v - level)
        result.append(level)
    out[seed_end - 1 :] = result
    return out


def macd(
    closes: Series, fast: int = 12, slow: int = 26, signal: int = 9
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """(macd line, signal line, histogram). The line needs `slow` closes; signal and
    histogram need slow + signal - 1 (34 with the defaults)."""
    if fast >= slow:
        raise ValueError("fast period must be shorter than slow period")
    x = as_array(closes)
    line = ema(x, fast) - ema(x, slow)
    sig = ema(line, signal)
    return line, sig, line - sig


def rsi(closes: Series, n: int = 14) -> FloatArray:
    """Wilder's RSI (0..100). Needs n+1 closes; no movement at all gives 50."""
    _check_window(n)
    x = as_array(closes)
    out = np.full(len(x), NAN)
    if len(x) <= n:
        return out
    delta = np.diff(x)
    gains = np.maximum(delta, 0.0)
    losses = np.maximum(-delta, 0.0)
    # Wilder's smoothing is recursive: a plain loop for the averages, then vector math.
    avg_gain = [float(gains[:n].mean())]
    avg_loss = [float(losses[:n].mean())]
    g_prev, l_prev = avg_gain[0], avg_loss[0]
    for g, loss in zip(gains[n:].tolist(), losses[n:].tolist(), strict=True):
        g_prev = (g_prev * (n - 1) + g) / n
        l_prev = (l_prev * (n - 1) + loss) / n
        avg_gain.append(g_prev)
        avg_loss.append(l_prev)
    up, down = np.array(avg_gain), np.array(avg_loss)
    with np.errstate(divide="ignore", invalid="ignore"):
        value = 100.0 - 100.0 / (1.0 + up / down)
    value[down == 0.0] = 100.0
    value[(down == 0.0) & (up == 0.0)] = 50.0
    out[n:] = value
    return out


def bollinger(
    closes: Series, n: int = 20, k: float = 2.0
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """(upper, middle, lower): SMA(n) +/- k population standard deviations."""
    mid = sma(closes, n)
    width = k * rolling_std(closes, n, ddof=0)
    return mid + width, mid, mid - width


def returns(closes: Series, periods: int = 1) -> FloatArray:
    """Simple returns over `periods` bars as fractions: x[i] / x[i - periods] - 1."""
    _check_window(periods)
    x = as_array(closes)
    out = np.full(len(x), NAN)
    if len(x) > periods:
        out[periods:] = x[periods:] / x[:-periods] - 1.0
    return out


def volatility(closes: Series, n: int = 20) -> FloatArray:
    """Sample stdev (ddof=1) of the last n daily returns, as a fraction (needs n+1 closes)."""
    _check_window(n)
    daily = returns(closes, 1)
    out = np.full(len(daily), NAN)
    if len(daily) > n and n > 1:
        out[n:] = _window_std(_windows(daily[1:], n), 1)
    return out


def last(series: Series, digits: int | None = None) -> float | None:
    """The last value as a float (optionally rounded); None if empty or NaN."""
    if len(series) == 0:
        return None
    v = float(series[-1])
    if math.isnan(v) or math.isinf(v):
        return None
    return round(v, digits) if digits is not None else v
