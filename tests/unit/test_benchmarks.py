"""The buy-and-hold benchmarks' marks equal a plain day-by-day Decimal computation."""

from __future__ import annotations

from decimal import Decimal

import pytest

from mytrader.adapters.bars import PriceHistory, load_bars, to_decimal
from mytrader.backtest.benchmarks import equal_weight, spy_buy_and_hold


def marked_by_hand(history: PriceHistory, dates: list[str], cash: Decimal, fee: Decimal, first):
    """What the account holds, marked at each date's last close, symbol by symbol."""
    d0 = dates[0]
    out = []
    for day in dates:
        value = cash
        for sym, qty, price, filled in first:
            if filled > day:
                continue
            bars = history.series(sym)
            closes = [c for d, c in zip(bars.dates, bars.close, strict=True) if d <= day[:10]]
            value += qty * (to_decimal(float(closes[-1])) - price) - fee
        out.append(value)
    assert out[0] == cash  # nothing is filled on the day it is decided (d0)
    assert d0 < first[0][3]
    return out


def holdings(
    history: PriceHistory, d0: str, slippage_bps: Decimal
) -> list[tuple[str, Decimal, str]]:
    got = []
    for sym in history.symbols:
        bars = history.series(sym)
        i = int(sum(1 for d in bars.dates if d <= d0))
        if i == 0 or i >= len(bars):
            continue
        price = to_decimal(float(bars.open[i]))
        if slippage_bps:
            price = (price * (1 + slippage_bps / 10_000)).quantize(Decimal("0.0001"))
        got.append((sym, price, str(bars.dates[i])))
    return got


@pytest.mark.parametrize("slippage", [Decimal("0"), Decimal("7")])
def test_equal_weight_is_the_plain_computation(slippage: Decimal) -> None:
    history = load_bars()
    dates = list(history.calendar[100:260:3])
    cash, fee = Decimal("25000"), Decimal("1.25")
    fills = holdings(history, dates[0], slippage)
    budget = (cash - fee * len(fills)) / len(fills)
    first = [
        (sym, int(budget // price), price, day) for sym, price, day in fills if budget // price
    ]
    expected = marked_by_hand(history, dates, cash, fee, first)
    assert equal_weight(history, dates, cash, fee, slippage) == expected
    # Timestamps (a live arena's marks) count as their day.
    stamped = [d + "T20:00:00Z" for d in dates]
    assert equal_weight(history, stamped, cash, fee, slippage) == expected


def test_spy_is_the_plain_computation() -> None:
    history = load_bars()
    dates = list(history.calendar[70:200])
    cash, fee, buffer = Decimal("10000"), Decimal("1"), Decimal("0.5")
    spy = history.series("SPY")
    close0 = to_decimal(float(spy.close[sum(1 for d in spy.dates if d <= dates[0]) - 1]))
    limit = (close0 * (1 + buffer / 100)).quantize(Decimal("0.01"))
    (sym, price, day), *_ = [f for f in holdings(history, dates[0], Decimal(0)) if f[0] == "SPY"]
    qty = int((cash - fee) // limit)
    expected = marked_by_hand(history, dates, cash, fee, [(sym, qty, min(price, limit), day)])
    assert spy_buy_and_hold(history, dates, cash, fee, buffer) == expected
