"""The offline market: a Broker over historical daily bars.

The clock is the file's trading calendar. Reads at `as_of` see bars dated <= as_of only,
and an order decided at `as_of` fills at one of the symbol's later bars (a market order at
the next open), never at a price the decision could have seen. Like a broker, it accepts
an order first; `get_order(cid, as_of)` then says what became of it by `as_of`.

The exchange is one broker account (all books share it) with Alpaca's account rules
(`mytrader.domain.account_rules`, on by default): an order is rejected while an order of
the other side in the symbol is open, a sell beyond the shares not held by open sells and
a buy beyond the buying power left by open buys (when the account's cash is given) too.
An OCO is one order: a cancel cancels it whole, at once (Alpaca's `pending_cancel` is
never observable here; the executor handles it live).

Here: the clock, the market reads and the order desk (accept, cancel, look up). What a
bar does to an order is `fills.py`; the account's open orders and position `account.py`.
"""

from __future__ import annotations

import bisect
import functools
import threading
from decimal import Decimal
from typing import Any

import numpy as np

from mytrader.adapters.bars import (
    FloatArray,
    IntArray,
    PriceHistory,
    load_bars,
    to_decimal,
)
from mytrader.adapters.sim.account import Account, account_order
from mytrader.adapters.sim.fills import broker_id, outcome, result
from mytrader.adapters.sim.prepared import PreparedMarket, prepared_for
from mytrader.domain.account_rules import Refusal, refusal
from mytrader.domain.models import Mover, Movers, OrderRequest, OrderResult
from mytrader.domain.sectors import name_of, sector_of
from mytrader.ports.broker import AssetInfo, Bar, DuplicateOrderError, MarketClock
from mytrader.ports.ledger import InMemoryLedger, OrderLedger, SimOrder

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
        account_rules: bool = True,
        account_cash: Decimal | None = None,
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
        self.account_rules = account_rules
        self.account_cash = account_cash
        # One simulated account per arena (the ids' first field): two offline arenas in
        # one database do not trade one account.
        self._accounts: dict[str, Account] = {}
        self._accounts_lock = threading.Lock()

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
        ok = np.flatnonzero((rows >= 0) & (prev >= 0))  # symbol indices: symbols are sorted
        close = self.history.close_at(rows[ok])
        # Rounded: float noise must not beat the tie-break (the symbol).
        change = np.round((close / self.history.close_at(prev[ok]) - 1.0) * 100.0, 6)
        volume = self.history.volume_at(rows[ok])

        def top_of(picked: IntArray, key: FloatArray) -> list[Mover]:
            # lexsort: the last key first; ties in the order of `ok`, i.e. by symbol.
            order = picked[np.lexsort((picked, key[picked]))][:top]
            return [
                _mover((self.history.symbols[ok[i]], close[i], change[i], volume[i]))
                for i in order.tolist()
            ]

        return Movers(
            gainers=top_of(np.flatnonzero(change > 0), -change),
            losers=top_of(np.flatnonzero(change < 0), change),
            most_active=top_of(np.arange(len(ok)), -volume.astype(np.float64)),
        )

    def prepared(self, lookback: int) -> PreparedMarket:
        """Indicators of every bar from the float columns, built once per history."""
        return prepared_for(self.history, lookback)

    # --- orders --------------------------------------------------------------------------

    def clock(self, as_of: str | None = None) -> MarketClock:
        """The simulated market is open on every trading day of the file."""
        now = as_of or self.next_session(None) or ""
        return MarketClock(
            timestamp=now,
            is_open=self.is_open(now),
            next_open=self.next_session(now),
            next_close=now if self.is_open(now) else None,
        )

    def submit_order(self, order: OrderRequest) -> OrderResult:
        """Accept the order (pending: it fills at a later bar, see `get_order`), or reject
        it at once. A client_order_id seen before raises DuplicateOrderError."""
        cid = order.client_order_id
        if self.ledger.get(cid) is not None:
            raise DuplicateOrderError(f"client_order_id {cid!r} was used already")
        problem = self._problem(order)
        if problem is not None:
            return result(order, "rejected", problem)
        account = self._account_of(cid)
        with account.lock:
            refused = self._refusal(account, order) if self.account_rules else None
            if refused is not None:
                return result(order, "rejected", refused.text("sim"))
            sim_order = SimOrder(request=order, broker_order_id=broker_id(cid))
            if not self.ledger.put(sim_order):  # lost a race with a concurrent submit of it
                raise DuplicateOrderError(f"client_order_id {cid!r} was used already")
            account.opened(order)
        return self._outcome(sim_order, order.as_of)

    def account_orders_open(self, prefix: str, as_of: str) -> list[OrderResult]:
        """The open orders at `as_of` of the account of the arena whose ids start with
        `prefix` (`orders.arena_prefix`)."""
        account = self._account_of(prefix)
        with account.lock:
            account.load(self.ledger)
            out = [o for sym in list(account.open) for o in self._open_in(account, sym, as_of)]
        return sorted(out, key=lambda o: o.client_order_id)

    def _account_of(self, client_order_id: str) -> Account:
        arena = client_order_id.split("-", 1)[0]
        with self._accounts_lock:
            account = self._accounts.get(arena)
            if account is None:
                account = self._accounts[arena] = Account(arena, self.account_cash)
        return account

    def _refusal(self, account: Account, order: OrderRequest) -> Refusal | None:
        """Alpaca's account rules for `order`, against the account's open orders now."""
        account.load(self.ledger)
        symbols = list(account.open) if account.cash is not None else [order.symbol]
        standing = [o for sym in symbols for o in self._open_in(account, sym, order.as_of)]
        new = account_order(order, self._last_price(order))
        return refusal(
            [account_order(o, o.limit_price) for o in standing],
            new,
            held=account.held.get(order.symbol, 0),
            cash=account.cash,
        )

    def _open_in(self, account: Account, symbol: str, as_of: str) -> list[OrderResult]:
        """The account's open orders of `symbol` at `as_of`; closed ones leave the index
        and their fills move into the account's position and cash."""
        account.load(self.ledger)
        out = []
        for cid in sorted(account.open.get(symbol, ())):
            stored = self.ledger.get(cid)
            if stored is None:
                account.open[symbol].discard(cid)
                continue
            now = self._outcome(stored, as_of)
            if now.is_open:
                out.append(now)
            else:
                account.closed(now)
        return out

    def _last_price(self, order: OrderRequest) -> Decimal | None:
        if order.limit_price is not None:
            return order.limit_price
        series = self.history.series(order.symbol)
        n = series.count_before(self.history.cal_end(order.as_of)) if series else 0
        return self._bar(order.symbol, n - 1).close if n else None

    def get_order(self, client_order_id: str, as_of: str | None = None) -> OrderResult | None:
        order = self.ledger.get(client_order_id)
        return self._outcome(order, as_of) if order is not None else None

    def find_orders(self, prefix: str, as_of: str | None = None) -> list[OrderResult]:
        return [self._outcome(o, as_of) for o in self.ledger.find(prefix)]

    def cancel_order(self, client_order_id: str, as_of: str | None = None) -> OrderResult | None:
        """Cancel at `as_of`: bars after it no longer fill the order; earlier fills stand."""
        order = self.ledger.get(client_order_id)
        if order is None:
            return None
        if order.final is None and order.canceled_as_of is None:
            if self._outcome(order, as_of).is_open:
                order.canceled_as_of = as_of or order.request.as_of
                self.ledger.update(order)
        return self._outcome(order, as_of)

    def _problem(self, order: OrderRequest) -> str | None:
        """Why the exchange rejects the order outright, if it does."""
        series = self.history.series(order.symbol)
        if series is None:
            return f"unknown symbol {order.symbol}"
        if series.count_before(self.history.cal_end(order.as_of)) == 0:
            return f"{order.symbol} has no bar on or before {order.as_of}"
        if order.order_class == "oco" and (
            order.side != "sell" or order.limit_price is None or order.stop_price is None
        ):
            return "an OCO order is a sell with a limit_price and a stop_price"
        if order.type == "limit" and order.limit_price is None:
            return "a limit order needs a limit_price"
        if order.type == "stop" and order.stop_price is None:
            return "a stop order needs a stop_price"
        return None

    def _outcome(self, order: SimOrder, as_of: str | None) -> OrderResult:
        """What became of `order` by `as_of` (None: at its placement): `fills.outcome`."""
        return outcome(order, as_of, self.history, self._bar, self.slippage_bps)


def _mover(row: tuple[str, Any, Any, Any]) -> Mover:
    sym, close, change, volume = row
    return Mover(
        symbol=sym,
        price=to_decimal(float(close)),
        change_pct=round(float(change), 2),
        volume=int(volume),
    )
