"""The two buy-and-hold benchmarks, traded the way the arena trades.

An account that decides on the first day to put everything into SPY sends a BUY limit at
the close + BUY_LIMIT_BUFFER_PCT sized so the risk gate's cash check holds, fills at the
next session's open (with the run's slippage) and pays the fee; from then on it is marked
at each close. The SPY benchmark is exactly that account, computed from the bars, so a
one-account buy-and-hold run reproduces it to the cent. The equal-weight benchmark
splits the cash evenly over every symbol that trades on the first two sessions (the
universe of the file; today's S&P 500 members, so it carries their survivorship bias).
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import ROUND_FLOOR, Decimal

import numpy as np

from mytrader.adapters.bars import PriceHistory, SymbolSeries, to_decimal
from mytrader.domain.money import CENT, HUNDRED

BPS = Decimal("10000")
SPY = "SPY"


def _close_on(series: SymbolSeries, cal_end: int) -> Decimal | None:
    n = series.count_before(cal_end)
    return to_decimal(float(series.close[n - 1])) if n else None


def _fill(
    series: SymbolSeries, history: PriceHistory, day: str, slippage_bps: Decimal
) -> tuple[Decimal, str] | None:
    """Price and date of a market-like buy decided on `day`: the next bar's open, slipped."""
    i = series.count_before(history.cal_end(day))
    if i == 0 or i >= len(series):
        return None
    price = to_decimal(float(series.open[i]))
    if slippage_bps:
        price = (price * (1 + slippage_bps / BPS)).quantize(Decimal("0.0001"))
    return price, str(series.dates[i])


def spy_buy_and_hold(
    history: PriceHistory,
    dates: Sequence[str],
    cash: Decimal,
    fee: Decimal,
    buffer_pct: Decimal,
    slippage_bps: Decimal = Decimal("0"),
    symbol: str = SPY,
) -> list[Decimal] | None:
    """Equity per date of the all-in buy-and-hold account; None without the symbol."""
    series = history.series(symbol)
    if series is None or not dates:
        return None
    d0 = dates[0]
    close = _close_on(series, history.cal_end(d0))
    fill = _fill(series, history, d0, slippage_bps)
    if close is None or fill is None:
        return None
    limit = (close * (1 + buffer_pct / HUNDRED)).quantize(CENT)
    qty = int(((cash - fee) / limit).to_integral_value(rounding=ROUND_FLOOR))
    price = min(fill[0], limit)
    return _hold(history, dates, cash, {symbol: (qty, price, fill[1])}, fee)


def equal_weight(
    history: PriceHistory,
    dates: Sequence[str],
    cash: Decimal,
    fee: Decimal,
    slippage_bps: Decimal = Decimal("0"),
) -> list[Decimal] | None:
    """Equal dollars in every symbol with a price on the first day and a fill after it."""
    if not dates:
        return None
    d0, end0 = dates[0], history.cal_end(dates[0])
    fills: dict[str, tuple[Decimal, str]] = {}
    for sym in history.symbols:
        series = history.series(sym)
        if series is None or _close_on(series, end0) is None:
            continue
        fill = _fill(series, history, d0, slippage_bps)
        if fill is not None:
            fills[sym] = fill
    if not fills:
        return None
    budget = (cash - fee * len(fills)) / len(fills)
    orders = {}
    for sym, (price, day) in sorted(fills.items()):
        qty = int((budget / price).to_integral_value(rounding=ROUND_FLOOR))
        if qty > 0:
            orders[sym] = (qty, price, day)
    return _hold(history, dates, cash, orders, fee)


def _hold(
    history: PriceHistory,
    dates: Sequence[str],
    cash: Decimal,
    orders: dict[str, tuple[int, Decimal, str]],
    fee: Decimal,
) -> list[Decimal]:
    """Mark the holdings at every date's close; each buy counts from its fill date on.

    Exact and vectorized: prices have 4 decimals, so each is a whole number of 1/10000 of
    a dollar; a symbol's gain at every date is one integer array operation (the equal
    weight benchmark marks ~500 symbols on ~5,000 days)."""
    ends = np.array([history.cal_end(d) for d in dates], dtype=np.int64)
    days = np.array(dates, dtype=str)  # ISO dates or timestamps: they sort as strings
    gain = np.zeros(len(dates), dtype=object)  # Python ints: exact at any size
    held = np.zeros(len(dates), dtype=np.int64)  # positions bought by each date (their fees)
    for sym, (qty, price, filled) in orders.items():
        series = history.series(sym)
        assert series is not None  # orders are made from the history's own symbols
        units = price.scaleb(4)
        if units != units.to_integral_value():  # not on the 1/10000 grid: no shortcut
            raise ValueError(f"{sym}: fill price {price} has more than 4 decimals")
        active = days >= filled
        n = np.searchsorted(series.date_idx, ends, side="left")  # bars up to each date
        closes = np.rint(series.close * 10_000).astype(np.int64)
        close_now = np.where(n > 0, closes[np.maximum(n - 1, 0)], int(units))
        delta = (close_now - int(units)).astype(object) * qty
        gain = gain + np.where(active, delta, 0)
        held += active
    return [
        cash + Decimal(int(g)).scaleb(-4) - fee * int(h)
        for g, h in zip(gain.tolist(), held.tolist(), strict=True)
    ]


def close_series(history: PriceHistory, symbol: str, dates: Sequence[str]) -> list[float] | None:
    """The symbol's close at each date (the last one before when it has no bar that day)."""
    series = history.series(symbol)
    if series is None:
        return None
    ends = np.searchsorted(series.date_idx, [history.cal_end(d) for d in dates])
    return [float(series.close[n - 1]) if n else float("nan") for n in ends]
