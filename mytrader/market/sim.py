"""The offline market: a Broker over historical daily bars.

The clock is the file's trading calendar. Reads at `as_of` see bars dated <= as_of only,
and an order decided at `as_of` fills at the symbol's next bar (its open), never at a
price the decision could have seen.
"""

from __future__ import annotations

import bisect
import functools
import uuid
from decimal import Decimal

import numpy as np

from mytrader.market.broker import AssetInfo, Bar, DuplicateOrderError
from mytrader.market.data import PriceHistory, load_bars, to_decimal
from mytrader.market.ledger import InMemoryLedger, OrderLedger
from mytrader.market.prepared import PreparedMarket, prepared_for
from mytrader.market.sectors import name_of, sector_of
from mytrader.state.models import Mover, Movers, OrderRequest, OrderResult, OrderStatus

_ORDER_NS = uuid.uuid5(uuid.NAMESPACE_URL, "mytrader/sim-exchange")
_BAR_CACHE = 65_536  # bars kept ready-made; a view re-reads ~lookback bars per symbol a day


class SimulatedExchange:
    """Broker over a PriceHistory. Immutable apart from the ledger, so reads are thread-safe."""

    name: str = "sim"

    def __init__(
        self,
        history: PriceHistory | None = None,
        *,
        ledger: OrderLedger | None = None,
        warmup_days: int = 60,
        start: str | None = None,
        end: str | None = None,
        slippage_bps: Decimal = Decimal("0"),
    ) -> None:
        if warmup_days < 0:
            raise ValueError("warmup_days must be 0 or more")
        self.history = history if history is not None else load_bars()
        self.ledger: OrderLedger = ledger if ledger is not None else InMemoryLedger()
        self.warmup_days = warmup_days
        # The first session leaves `warmup_days` of history for indicators, even with `start`.
        first = warmup_days
        if start is not None:
            first = max(first, bisect.bisect_left(self.history.calendar, start))
        self._first = first
        # `end`: the clock stops after the last session <= end (a backtest's range).
        self._stop = len(self.history.calendar) if end is None else self.history.cal_end(end)
        self.slippage_bps = Decimal(slippage_bps)
        # Bars are rebuilt from floats on demand; caching them keeps a view at a few ms.
        self._bar = functools.lru_cache(maxsize=_BAR_CACHE)(self._make_bar)

    # --- clock ---------------------------------------------------------------------------

    def next_session(self, after: str | None) -> str | None:
        """The first session (None), else the next calendar date after `after`."""
        cal = self.history.calendar
        i = self._first if after is None else max(self._first, self.history.cal_end(after))
        return cal[i] if i < min(len(cal), self._stop) else None

    def is_open(self, as_of: str) -> bool:
        return self.history.calendar_index(as_of) is not None

    # --- reference data ------------------------------------------------------------------

    def universe(self) -> list[str]:
        return list(self.history.symbols)

    def asset(self, symbol: str) -> AssetInfo | None:
        if symbol not in self.history:
            return None
        return AssetInfo(symbol=symbol, name=name_of(symbol), sector=sector_of(symbol))

    # --- market data ---------------------------------------------------------------------

    def bars(self, symbols: list[str], as_of: str, limit: int) -> dict[str, list[Bar]]:
        """Bars dated <= as_of, oldest first, at most `limit`; [] for unknown symbols.

        The Bar objects are cached and shared between calls: treat them as read-only."""
        end = self.history.cal_end(as_of)
        out: dict[str, list[Bar]] = {}
        for sym in symbols:
            series = self.history.series(sym)
            if series is None or limit <= 0:
                out[sym] = []
                continue
            n = series.count_before(end)
            out[sym] = [self._bar(sym, i) for i in range(max(0, n - limit), n)]
        return out

    def _make_bar(self, symbol: str, i: int) -> Bar:
        series = self.history.series(symbol)
        assert series is not None  # only called for known symbols
        return series.bar(i)

    def movers(self, as_of: str, top: int) -> Movers:
        """Gainers, losers (by % change vs the previous session's close) and most active
        (by volume) on the last session <= as_of. Only symbols with a bar on both days."""
        pos = self.history.cal_end(as_of) - 1
        if pos < 1 or top <= 0:
            return Movers()
        rows = self.history.cross_section(pos)
        prev = self.history.cross_section(pos - 1)
        ok = np.flatnonzero((rows >= 0) & (prev >= 0))
        close = self.history.close_at(rows[ok])
        change = (close / self.history.close_at(prev[ok]) - 1.0) * 100.0
        volume = self.history.volume_at(rows[ok])
        syms = self.history.symbols
        table = [
            (syms[k], c, round(ch, 6), v)  # rounding: float noise must not beat the tie-break
            for k, c, ch, v in zip(
                ok.tolist(), close.tolist(), change.tolist(), volume.tolist(), strict=True
            )
        ]
        up = sorted((r for r in table if r[2] > 0), key=lambda r: (-r[2], r[0]))
        down = sorted((r for r in table if r[2] < 0), key=lambda r: (r[2], r[0]))
        active = sorted(table, key=lambda r: (-r[3], r[0]))
        return Movers(
            gainers=[_mover(r) for r in up[:top]],
            losers=[_mover(r) for r in down[:top]],
            most_active=[_mover(r) for r in active[:top]],
        )

    def prepared(self, lookback: int) -> PreparedMarket:
        """Indicators of every bar from the float columns, built once per history."""
        return prepared_for(self.history, lookback)

    # --- orders --------------------------------------------------------------------------

    def submit_order(self, order: OrderRequest) -> OrderResult:
        """Fill at the symbol's next bar after `order.as_of`, or reject/expire. Every
        outcome is recorded; a client_order_id seen before raises DuplicateOrderError."""
        cid = order.client_order_id
        if self.ledger.get(cid) is not None:
            raise DuplicateOrderError(f"client_order_id {cid!r} was used already")
        result = self._execute(order)
        if not self.ledger.put(result):  # lost a race with a concurrent submit of this id
            raise DuplicateOrderError(f"client_order_id {cid!r} was used already")
        return result

    def get_order(self, client_order_id: str) -> OrderResult | None:
        return self.ledger.get(client_order_id)

    def _execute(self, order: OrderRequest) -> OrderResult:
        series = self.history.series(order.symbol)
        if series is None:
            return _result(order, "rejected", f"unknown symbol {order.symbol}")
        i = series.count_before(self.history.cal_end(order.as_of))  # first bar after as_of
        if i == 0:
            reason = f"{order.symbol} has no bar on or before {order.as_of}"
            return _result(order, "rejected", reason)
        if i >= len(series):
            return _result(order, "rejected", f"no bar after {order.as_of}: history ends")
        bar = self._bar(order.symbol, i)
        price = _slipped(_fill_price(order, bar), order, self.slippage_bps)
        if price is None:
            extreme = bar.low if order.side == "buy" else bar.high
            what = "low" if order.side == "buy" else "high"
            return _result(
                order,
                "expired",
                f"limit {order.limit_price} not reached on {bar.date} ({what} {extreme})",
            )
        return _result(
            order,
            "filled",
            filled_qty=order.qty,
            filled_avg_price=price,
            filled_at=bar.date,
        )


def _fill_price(order: OrderRequest, bar: Bar) -> Decimal | None:
    """Market: the open. Limit: the open if it is already through the limit, else the
    limit if the day's range reaches it, else None (the day order expires)."""
    limit = order.limit_price
    if limit is None:
        return bar.open
    if order.side == "buy":
        if bar.open <= limit:
            return bar.open
        return limit if bar.low <= limit else None
    if bar.open >= limit:
        return bar.open
    return limit if bar.high >= limit else None


def _slipped(price: Decimal | None, order: OrderRequest, bps: Decimal) -> Decimal | None:
    """The fill moved against the order by `bps` basis points (never past a buy limit)."""
    if price is None or not bps:
        return price
    sign = 1 if order.side == "buy" else -1
    moved = (price * (1 + sign * bps / 10_000)).quantize(Decimal("0.0001"))
    return min(moved, order.limit_price) if order.limit_price and sign > 0 else moved


def _result(
    order: OrderRequest,
    status: OrderStatus,
    reason: str = "",
    *,
    filled_qty: int = 0,
    filled_avg_price: Decimal | None = None,
    filled_at: str | None = None,
) -> OrderResult:
    return OrderResult(
        client_order_id=order.client_order_id,
        account=order.account,
        symbol=order.symbol,
        side=order.side,
        qty=order.qty,
        status=status,
        reason=reason,
        broker_order_id=str(uuid.uuid5(_ORDER_NS, order.client_order_id)),
        filled_qty=filled_qty,
        filled_avg_price=filled_avg_price,
        filled_at=filled_at,
    )


def _mover(row: tuple[str, float, float, int]) -> Mover:
    sym, close, change, volume = row
    return Mover(symbol=sym, price=to_decimal(close), change_pct=round(change, 2), volume=volume)
