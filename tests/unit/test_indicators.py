"""Indicators against hand-computed values and a plain reference implementation."""

from __future__ import annotations

import math
import statistics

import numpy as np
import pytest

from mytrader.domain import indicators as ind


def nan_equal(a: np.ndarray, b: list[float]) -> bool:
    return bool(np.allclose(a, np.array(b, dtype=float), equal_nan=True, rtol=0, atol=1e-12))


def random_walk(n: int, seed: int = 7) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return 100.0 * np.cumprod(1.0 + rng.normal(0.0, 0.02, n))


def test_sma_small_series() -> None:
    assert nan_equal(ind.sma([1, 2, 3, 4, 5], 3), [math.nan, math.nan, 2, 3, 4])
    assert nan_equal(ind.sma([1, 2], 3), [math.nan, math.nan])
    assert nan_equal(ind.sma([], 3), [])


def test_window_must_be_positive() -> None:
    with pytest.raises(ValueError):
        ind.sma([1.0, 2.0], 0)


def test_ema_seeded_with_sma() -> None:
    # seed mean(1,2,3)=2 at index 2; alpha=2/(3+1)=0.5 -> 2 + 0.5*(4-2) = 3
    assert nan_equal(ind.ema([1, 2, 3, 4], 3), [math.nan, math.nan, 2, 3])


def test_bollinger_textbook_example() -> None:
    # mean 5, population stdev 2 -> 5 +/- 2*2
    upper, mid, lower = ind.bollinger([2, 4, 4, 4, 5, 5, 7, 9], 8, 2)
    assert upper[-1] == pytest.approx(9.0)
    assert mid[-1] == pytest.approx(5.0)
    assert lower[-1] == pytest.approx(1.0)
    assert np.isnan(mid[:-1]).all()


def test_rsi_rising_falling_flat() -> None:
    rising = list(range(1, 31))
    r = ind.rsi(rising, 14)
    assert np.isnan(r[:14]).all()
    assert (r[14:] == 100.0).all()
    assert (ind.rsi(rising[::-1], 14)[14:] == 0.0).all()
    assert (ind.rsi([5.0] * 20, 14)[14:] == 50.0).all()
    assert np.isnan(ind.rsi(rising[:14], 14)).all()  # 14 closes = 13 changes: not enough


def test_rsi_wilder_smoothing_by_hand() -> None:
    # n=2; changes +1, -1, +1. First averages: gain 0.5, loss 0.5 -> 50.
    # Then gain (0.5*1 + 1)/2 = 0.75, loss (0.5*1 + 0)/2 = 0.25 -> RS 3 -> 75.
    assert nan_equal(ind.rsi([1, 2, 1, 2], 2), [math.nan, math.nan, 50.0, 75.0])


def reference_ema(values: list[float], n: int) -> list[float]:
    out = [math.nan] * len(values)
    start = next(i for i, v in enumerate(values) if not math.isnan(v))
    if start + n > len(values):
        return out
    level = sum(values[start : start + n]) / n
    out[start + n - 1] = level
    k = 2 / (n + 1)
    for i in range(start + n, len(values)):
        level = values[i] * k + level * (1 - k)
        out[i] = level
    return out


def test_macd_matches_reference_emas() -> None:
    closes = random_walk(120).tolist()
    line, signal, hist = ind.macd(closes, 12, 26, 9)
    ref_line = [
        f - s for f, s in zip(reference_ema(closes, 12), reference_ema(closes, 26), strict=True)
    ]
    ref_signal = reference_ema(ref_line, 9)
    assert np.allclose(line, ref_line, equal_nan=True, rtol=0, atol=1e-9)
    assert np.allclose(signal, ref_signal, equal_nan=True, rtol=0, atol=1e-9)
    assert np.allclose(hist, np.array(ref_line) - np.array(ref_signal), equal_nan=True, atol=1e-9)
    # line from 26 closes, signal and histogram from 26 + 9 - 1 = 34
    assert np.isnan(line[:25]).all() and not np.isnan(line[25])
    assert np.isnan(hist[:33]).all() and not np.isnan(hist[33])


def test_returns_and_volatility() -> None:
    assert nan_equal(ind.returns([100, 110, 121], 1), [math.nan, 0.1, 0.1])
    assert nan_equal(ind.returns([100, 110, 121], 2), [math.nan, math.nan, 0.21])
    closes = [100.0, 110.0, 99.0, 108.9]  # returns +10%, -10%, +10%
    vol = ind.volatility(closes, 3)
    assert np.isnan(vol[:3]).all()
    assert vol[3] == pytest.approx(statistics.stdev([0.1, -0.1, 0.1]))


@pytest.mark.parametrize(
    "fn",
    [
        lambda x: ind.sma(x, 20),
        lambda x: ind.ema(x, 12),
        lambda x: ind.rsi(x, 14),
        lambda x: ind.macd(x)[0],
        lambda x: ind.macd(x)[1],
        lambda x: ind.macd(x)[2],
        lambda x: ind.bollinger(x)[0],
        lambda x: ind.bollinger(x)[2],
        lambda x: ind.returns(x, 5),
        lambda x: ind.volatility(x, 20),
    ],
)
def test_causal(fn: object) -> None:
    """The value at i computed from the whole series equals the one from x[:i+1]."""
    closes = random_walk(80, seed=3)
    full = fn(closes)  # type: ignore[operator]
    for i in range(len(closes)):
        prefix = fn(closes[: i + 1])  # type: ignore[operator]
        assert np.allclose(prefix[-1], full[i], equal_nan=True, rtol=1e-12, atol=1e-12)


def test_last() -> None:
    assert ind.last([]) is None
    assert ind.last([1.0, math.nan]) is None
    assert ind.last(np.array([1.0, 2.34567]), 2) == 2.35
