"""The bars file of a backtest and its date range, checked before anything runs.

`market.data` parses and validates the bars (columns, numbers, duplicates); a backtest
also wants each symbol's rows in date order (an unsorted file is usually a broken
export) and a range that lies inside the data with room for the indicators' warm-up.
Every problem is a `MarketDataError` whose message names the file, row or option.
"""

from __future__ import annotations

import bisect
from datetime import date as _date
from pathlib import Path

import numpy as np
import pandas as pd

from mytrader.adapters.bars import COLUMNS, MarketDataError, PriceHistory, load_bars
from mytrader.domain.warmup import MIN_WARMUP, warmup_shortfall


def load_history(path: Path | None) -> PriceHistory:
    """The bundled sample (None) or a CSV(.gz) file, with each symbol's dates ascending."""
    if path is None:
        return load_bars(None)
    history = load_bars(path)  # columns, numbers, duplicates: its messages name the problem
    check_sorted(path)
    return history


def check_sorted(path: Path) -> None:
    """Rows of one symbol must come in ascending date order (the loader would sort them
    silently; a backtest refuses a file that is out of order)."""
    frame = pd.read_csv(path, usecols=["symbol", "date"], dtype=str, keep_default_na=False)
    sym = frame["symbol"].str.strip().str.upper().to_numpy()  # as the loader spells them
    day = frame["date"].to_numpy()
    if len(sym) < 2:
        return
    same = sym[1:] == sym[:-1]
    back = np.flatnonzero(same & (day[1:] < day[:-1]))
    if len(back):
        i = int(back[0]) + 1  # the row that goes back in time (0-based data row)
        raise MarketDataError(
            f"{path}: dates are not sorted: row {i + 2} has {sym[i]} on {day[i]} after "
            f"{day[i - 1]} (sort the file by symbol, then date)"
        )


def _iso(value: str, option: str) -> str:
    try:
        return _date.fromisoformat(value).isoformat()
    except ValueError:
        raise MarketDataError(f"{option} {value!r} is not a date (YYYY-MM-DD)") from None


def trading_range(
    history: PriceHistory, start: str | None, end: str | None, warmup_days: int
) -> tuple[str, str]:
    """The first and last trading day of the run, inside the data and after the warm-up.

    An explicit --start may eat into the warm-up down to MIN_WARMUP days of history (the
    slower indicators, e.g. SMA 50, then show up a few days into the run)."""
    cal = history.calendar
    if start:
        warmup_days = max(MIN_WARMUP, min(warmup_days, bisect.bisect_left(cal, start)))
    short = warmup_shortfall(len(cal), warmup_days)
    if short:
        raise MarketDataError(short)
    first_ok, last = cal[warmup_days], cal[-1]
    span = f"the data covers {cal[0]} to {last}; the first day with {warmup_days} days of "
    span += f"history for the indicators is {first_ok}"
    s = _iso(start, "--start") if start else first_ok
    e = _iso(end, "--end") if end else last
    if s > e:
        raise MarketDataError(f"--start {s} is after --end {e}")
    if s < first_ok:
        raise MarketDataError(f"--start {s} is outside the data: {span}")
    if e > last:
        raise MarketDataError(f"--end {e} is outside the data: {span}")
    i, j = bisect.bisect_left(cal, s), bisect.bisect_right(cal, e)
    if i >= j:
        raise MarketDataError(f"no trading day between {s} and {e} in the data")
    return cal[i], cal[j - 1]


def missing_benchmark(history: PriceHistory, symbol: str, source: Path | None) -> str | None:
    """A warning when the benchmark symbol is not in the data (its curve would be left
    out of the report without a word)."""
    if symbol in history:
        return None
    where = source or "the bundled sample"
    return f"{symbol} is not in {where}: no {symbol} buy-and-hold benchmark in the report"


__all__ = [
    "COLUMNS",
    "MIN_WARMUP",
    "MarketDataError",
    "check_sorted",
    "load_history",
    "missing_benchmark",
    "trading_range",
]
