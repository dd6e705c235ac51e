"""Daily bars loaded once into columnar numpy arrays, indexed by symbol and by date.

All symbols share one set of column arrays (sorted by symbol, then date); a symbol's
series are views into them, so the S&P 500 file costs one parse and no per-symbol copies.
Each bar also carries the index of its date in the global calendar, which turns every
"up to `as_of`" lookup into an integer binary search.
"""

from __future__ import annotations

import bisect
import importlib.resources
from dataclasses import dataclass
from datetime import date as _date
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from mytrader.domain.symbols import normalise_symbol
from mytrader.ports.broker import Bar

COLUMNS: tuple[str, ...] = ("symbol", "date", "open", "high", "low", "close", "volume")
_PRICES: tuple[str, ...] = ("open", "high", "low", "close")
_DTYPES: dict[str, Any] = {
    "symbol": object,
    "date": object,
    **dict.fromkeys(_PRICES, np.float64),
    "volume": np.int64,
}

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
ObjArray = npt.NDArray[np.object_]


class MarketDataError(ValueError):
    """The bars file cannot be used (missing, empty, wrong columns, bad values, duplicates).

    The message names the file and, for a bad value, its line (the header is line 1)."""


def to_decimal(x: float) -> Decimal:
    """The exact price as written in the CSV: prices have 4 decimals, so this round-trips."""
    return Decimal(f"{x:.4f}")


@dataclass(frozen=True, slots=True, eq=False)
class SymbolSeries:
    """One symbol's bars, oldest first. Arrays are read-only views into PriceHistory."""

    symbol: str
    dates: ObjArray  # ISO date strings (shared with the calendar, not copied)
    date_idx: IntArray  # position of each date in PriceHistory.calendar
    open: FloatArray
    high: FloatArray
    low: FloatArray
    close: FloatArray
    volume: IntArray

    def __len__(self) -> int:
        return len(self.date_idx)

    def count_before(self, cal_pos: int) -> int:
        """Number of bars whose calendar index is < cal_pos (an exclusive slice end)."""
        return int(np.searchsorted(self.date_idx, cal_pos, side="left"))

    def bar(self, i: int) -> Bar:
        """Bar i with exact Decimal prices (built without re-validating known-good data)."""
        return Bar.model_construct(
            date=str(self.dates[i]),
            open=to_decimal(float(self.open[i])),
            high=to_decimal(float(self.high[i])),
            low=to_decimal(float(self.low[i])),
            close=to_decimal(float(self.close[i])),
            volume=int(self.volume[i]),
        )


class PriceHistory:
    """All bars of one file. Immutable after construction, so safe to share across threads."""

    def __init__(self, frame: pd.DataFrame, source: str | None = None) -> None:
        """Build from a frame with COLUMNS (any row order); validates and sorts it.

        `source` is the file the frame was read from (its index = data line - 2), so an
        error names the file and the line; without it, errors name the frame's row."""
        raw = _clean(frame, source)
        sym_codes, sym_names = pd.factorize(raw["symbol"], sort=True)
        date_codes, cal = pd.factorize(raw["date"], sort=True)
        empty = (sym_codes < 0) | (date_codes < 0)
        if empty.any():
            row = raw["_index"][int(np.flatnonzero(empty)[0])]
            raise MarketDataError(f"{_where(source, row)}: empty symbol or date")
        _check_dates(cal.tolist(), raw, source)
        order = _sort_order(sym_codes, date_codes, len(cal), raw, source)
        # Tuples: shared by every reader, so they must not be editable.
        self.calendar: tuple[str, ...] = tuple(str(d) for d in cal)
        self.symbols: tuple[str, ...] = tuple(str(s) for s in sym_names)
        self._cal_pos = {d: i for i, d in enumerate(self.calendar)}
        if order is not None:
            raw = {c: a[order] for c, a in raw.items() if c not in ("symbol", "date")}
            sym_codes, date_codes = sym_codes[order], date_codes[order]
        sym_col = sym_codes.astype(np.int64)
        date_col = _frozen(date_codes.astype(np.int64))
        cols = {c: _frozen(raw[c]) for c in (*_PRICES, "volume")}
        self._close: FloatArray = cols["close"]
        self._volume: IntArray = cols["volume"]
        self._row_at = _row_table(sym_col, date_col, len(self.calendar), len(self.symbols))
        self._series = self._split(sym_col, date_col, cols)

    def _split(
        self, sym_col: IntArray, date_col: IntArray, cols: dict[str, npt.NDArray[Any]]
    ) -> dict[str, SymbolSeries]:
        cal_objects = np.asarray(self.calendar, dtype=object)
        bounds = np.searchsorted(sym_col, np.arange(len(self.symbols) + 1))
        series = {}
        for k, sym in enumerate(self.symbols):
            s, e = int(bounds[k]), int(bounds[k + 1])
            idx = date_col[s:e]
            series[sym] = SymbolSeries(
                symbol=sym,
                dates=_frozen(cal_objects[idx]),
                date_idx=idx,
                open=cols["open"][s:e],
                high=cols["high"][s:e],
                low=cols["low"][s:e],
                close=cols["close"][s:e],
                volume=cols["volume"][s:e],
            )
        return series

    # --- lookups -------------------------------------------------------------------------

    def __contains__(self, symbol: object) -> bool:
        return symbol in self._series

    def __len__(self) -> int:
        """Number of rows (bars) across all symbols."""
        return len(self._close)

    def series(self, symbol: str) -> SymbolSeries | None:
        return self._series.get(symbol)

    def calendar_index(self, day: str) -> int | None:
        """Position of `day` in the calendar; None if it is not a trading day of the file."""
        return self._cal_pos.get(day)

    def cal_end(self, as_of: str) -> int:
        """Number of calendar dates <= as_of (works for timestamps too: ISO strings sort)."""
        return bisect.bisect_right(self.calendar, as_of)

    def cross_section(self, cal_pos: int) -> IntArray:
        """Global row per symbol (in `symbols` order) on calendar day cal_pos, -1 if none."""
        return self._row_at[cal_pos].astype(np.int64)

    def close_at(self, rows: IntArray) -> FloatArray:
        return self._close[rows]

    def volume_at(self, rows: IntArray) -> IntArray:
        return self._volume[rows]

    @staticmethod
    def price(x: float) -> Decimal:
        """Exact Decimal of a float price read from the file."""
        return to_decimal(x)


def load_bars(path: Path | str | None = None) -> PriceHistory:
    """Load a bars CSV (gzip or plain); None loads the sample bundled with the package."""
    if path is None:
        resource = importlib.resources.files("mytrader") / "data" / "sample_daily.csv.gz"
        with importlib.resources.as_file(resource) as sample:
            return PriceHistory(_read(sample), source=str(sample))
    return PriceHistory(_read(Path(path)), source=str(path))


def _read(path: Path) -> pd.DataFrame:
    """The file's rows, indexed so that index + 2 is the line (blank lines included)."""
    if not path.is_file():
        raise MarketDataError(f"market data file not found: {path}")
    try:
        header = pd.read_csv(path, nrows=0).columns.tolist()
    except pd.errors.EmptyDataError:
        raise MarketDataError(
            f"{path}: the file is empty; expected a header line {','.join(COLUMNS)} and bars"
        ) from None
    except (ValueError, OSError, UnicodeDecodeError) as exc:  # not a CSV, bad gzip, ...
        raise MarketDataError(f"{path}: unreadable: {exc}") from None
    missing = [c for c in COLUMNS if c not in header]
    if missing:
        raise MarketDataError(
            f"{path}: missing column(s) {', '.join(missing)}; "
            f"expected {','.join(COLUMNS)}, found {','.join(map(str, header))}"
        )
    # skip_blank_lines=False keeps index + 2 == line number; blank rows are dropped below.
    try:  # the fast path: every value well-formed
        frame = pd.read_csv(path, usecols=list(COLUMNS), dtype=_DTYPES, skip_blank_lines=False)
    except (ValueError, TypeError, OverflowError):  # a non-numeric value, an empty volume
        frame = _locate_bad_value(path)
    blank = frame["symbol"].isna() & frame["date"].isna()  # cheap first look
    if blank.any():
        blank &= frame.isna().all(axis=1)
        frame = frame[~blank]
    if frame.empty:
        raise MarketDataError(f"{path}: no bars after the header line")
    return frame


def _locate_bad_value(path: Path) -> pd.DataFrame:
    """Read as text to name the line and column of a value the typed read refused."""
    try:
        text = pd.read_csv(
            path, usecols=list(COLUMNS), dtype=str, keep_default_na=False, skip_blank_lines=False
        )
    except (ValueError, OSError) as exc:  # ragged rows and the like: pandas names the line
        raise MarketDataError(f"{path}: unreadable: {exc}") from None
    blank = (text == "").all(axis=1)
    for column in (*_PRICES, "volume"):
        values = text[column].str.strip()
        number = pd.to_numeric(values, errors="coerce")
        bad = ~blank & (number.isna() | (values == ""))
        if column == "volume":  # a whole number of shares
            bad |= ~blank & ~bad & (number != number.round())
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0])
            raw = text[column].iloc[row]
            problem = "empty" if not raw.strip() else f"{raw!r} is not a number"
            raise MarketDataError(f"{path}, line {row + 2}: bad value in {column}: {problem}")
    frame = text.replace("", np.nan)  # as the typed read sees an empty symbol or date
    for column in (*_PRICES, "volume"):
        frame[column] = pd.to_numeric(frame[column].str.strip(), errors="coerce")
    return frame


def _where(source: str | None, index: Any) -> str:
    return f"{source}, line {int(index) + 2}" if source else f"bars row {index}"


def _check_values(frame: pd.DataFrame, cols: dict[str, Any], source: str | None) -> None:
    """Every price present and positive, high >= low, volume >= 0: the first bad row
    is named with its problem, so a user can fix the file."""
    first: tuple[int, str] | None = None

    def check(mask: npt.NDArray[np.bool_], problem: str) -> None:
        nonlocal first
        hits = np.flatnonzero(mask)
        if len(hits) and (first is None or hits[0] < first[0]):
            row = int(hits[0])
            first = (row, problem.format(**{c: cols[c][row] for c in (*_PRICES, "volume")}))

    for c in _PRICES:
        check(np.isnan(cols[c]), f"{c} is empty")
        check(cols[c] <= 0, f"{c} must be positive, got {{{c}:g}}")
    check(cols["high"] < cols["low"], "high {high:g} is below low {low:g}")
    check(cols["volume"] < 0, "volume must be 0 or more, got {volume}")
    if first is not None:
        row, problem = first
        raise MarketDataError(f"{_where(source, frame.index[row])}: {problem}")


def _clean(frame: pd.DataFrame, source: str | None = None) -> dict[str, npt.NDArray[Any]]:
    """The frame as plain numpy columns, checked, without filler rows."""
    missing = [c for c in COLUMNS if c not in frame.columns]
    if missing:
        raise MarketDataError(f"{source or 'bars'}: missing column(s) {', '.join(missing)}")
    if frame.empty:
        raise MarketDataError(f"{source or 'bars'}: no bars")
    try:
        cols = {c: frame[c].to_numpy(dtype=_DTYPES[c]) for c in COLUMNS}
    except (ValueError, TypeError) as exc:
        raise MarketDataError(f"{source or 'bars'}: bad value in the bars: {exc}") from None
    _check_values(frame, cols, source)
    cols["symbol"] = _normalised_symbols(cols["symbol"], frame.index, source)
    # Zero-volume rows are filler (quotes before a listing, halted days), not sessions.
    keep = cols["volume"] > 0
    cols["_index"] = np.asarray(frame.index)  # names a duplicate's line
    if not keep.all():
        cols = {c: a[keep] for c, a in cols.items()}
    if not len(cols["volume"]):
        raise MarketDataError(f"{source or 'bars'}: no bars with volume > 0")
    # A few vendor rows have open/close outside [low, high]; widen the range so fills
    # (which test the limit against low/high) stay consistent.
    opens, closes = cols["open"], cols["close"]
    cols["low"] = np.minimum(np.minimum(cols["low"], opens), closes)
    cols["high"] = np.maximum(np.maximum(cols["high"], opens), closes)
    return cols


def _normalised_symbols(
    symbols: npt.NDArray[Any], index: pd.Index, source: str | None
) -> npt.NDArray[Any]:
    """Every symbol in its one spelling (upper case, domain/symbols.py), so the books,
    the models and the settings name the same symbols; a bad one names its line. Each
    distinct symbol is checked once (a few hundred, not a row each). Empty stays empty."""
    codes, uniques = pd.factorize(symbols)
    spelled = []
    for k, raw in enumerate(uniques):
        try:
            spelled.append(normalise_symbol(str(raw)))
        except ValueError as exc:
            row = int(np.flatnonzero(codes == k)[0])
            raise MarketDataError(f"{_where(source, index[row])}: bad symbol: {exc}") from None
    if spelled == list(uniques):  # the usual file: already in its one spelling
        return symbols
    return np.asarray([*spelled, np.nan], dtype=object)[codes]  # code -1 (empty) -> NaN


def _check_dates(dates: list[object], raw: dict[str, Any], source: str | None) -> None:
    """Every distinct date a real YYYY-MM-DD day; a bad one is named with its first line."""
    for d in dates:
        try:
            ok = isinstance(d, str) and _date.fromisoformat(d).isoformat() == d
        except ValueError:
            ok = False
        if not ok:
            row = raw["_index"][int(np.flatnonzero(raw["date"] == d)[0])]
            raise MarketDataError(f"{_where(source, row)}: bad date {d!r}: expected YYYY-MM-DD")


def _sort_order(
    sym_codes: npt.NDArray[Any],
    date_codes: npt.NDArray[Any],
    n_dates: int,
    raw: dict[str, npt.NDArray[Any]],
    source: str | None = None,
) -> IntArray | None:
    """Row order by (symbol, date); None when sorted already (the bundled files are)."""
    key = sym_codes.astype(np.int64) * n_dates + date_codes.astype(np.int64)
    if len(key) > 1 and not bool(np.all(key[1:] > key[:-1])):
        order = np.argsort(key, kind="stable")
        key = key[order]
        dup = np.flatnonzero(key[1:] == key[:-1])
        if len(dup):
            row = int(order[dup[0]])
            again = int(order[dup[0] + 1])
            raise MarketDataError(
                f"{_where(source, raw['_index'][again])}: duplicate bar for "
                f"{raw['symbol'][row]} on {raw['date'][row]}"
            )
        return order.astype(np.int64)
    return None


def _row_table(
    sym_col: IntArray, date_col: IntArray, n_dates: int, n_syms: int
) -> npt.NDArray[np.int32]:
    """Dense (calendar day, symbol) -> global row, -1 where a symbol has no bar that day.

    It makes a cross-section (the movers) one vectorized lookup instead of a binary search
    per symbol; about 10 MB for the 20-year S&P 500 file.
    """
    table = np.full((n_dates, n_syms), -1, dtype=np.int32)
    table[date_col, sym_col] = np.arange(len(sym_col), dtype=np.int32)
    return _frozen(table)


def _frozen(a: npt.NDArray[Any]) -> npt.NDArray[Any]:
    a.flags.writeable = False
    return a
