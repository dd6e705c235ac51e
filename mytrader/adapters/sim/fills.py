"""Order matching of the simulated exchange: what became of an order by a date, from the
symbol's later bars (`outcome`), the price a bar fills it at (`fill_price`), slippage and
the search for the first bar that may fill it. Pure functions of the bars and the order;
the exchange keeps the orders (the ledger) and the accounts."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from decimal import Decimal

import numpy as np

from mytrader.adapters.bars import PriceHistory, SymbolSeries
from mytrader.domain.models import OrderRequest, OrderResult, OrderStatus
from mytrader.ports.broker import Bar
from mytrader.ports.ledger import SimOrder

_ORDER_NS = uuid.uuid5(uuid.NAMESPACE_URL, "mytrader/sim-exchange")


def outcome(
    order: SimOrder,
    as_of: str | None,
    history: PriceHistory,
    bar_at: Callable[[str, int], Bar],
    slippage_bps: Decimal,
) -> OrderResult:
    """What became of `order` by `as_of` (None: at its placement): the first bar after
    its placement (a day order) or any later bar (gtc) that fills it, up to `as_of` and
    not after a cancel. Deterministic: the same bars always give the same answer."""
    if order.final is not None:
        return order.final
    req = order.request
    series = history.series(req.symbol)
    assert series is not None  # checked at submit
    first = series.count_before(history.cal_end(req.as_of))  # first bar after it
    seen = series.count_before(history.cal_end(as_of or req.as_of))
    last = seen if req.time_in_force == "gtc" else min(seen, first + 1)
    canceled = order.canceled_as_of
    if canceled is not None:
        last = min(last, series.count_before(history.cal_end(canceled)))
    i = next_candidate(series, req, first, last)
    while i < last:
        bar = bar_at(req.symbol, i)
        price = slipped(fill_price(req, bar), req, slippage_bps)
        if price is None:  # a float near miss: the exact check said no
            i = next_candidate(series, req, i + 1, last)
            continue
        return result(
            req,
            "filled",
            broker_order_id=order.broker_order_id,
            filled_qty=req.qty,
            filled_avg_price=price,
            filled_at=bar.date,
        )
    if canceled is not None and (as_of or req.as_of) >= canceled:
        return result(req, "canceled", f"canceled on {canceled}", order.broker_order_id)
    if req.time_in_force == "day" and seen > first:
        bar = bar_at(req.symbol, first)
        return result(req, "expired", not_reached(req, bar), order.broker_order_id)
    if req.time_in_force == "day" and first >= len(series):
        return result(req, "expired", "no bar after the order: history ends")
    return result(req, "pending", "", order.broker_order_id)


_NEAR = 1e-6  # float slack of the candidate search; the exact Decimal check decides


def next_candidate(series: SymbolSeries, order: OrderRequest, start: int, stop: int) -> int:
    """The first bar in [start, stop) whose range may fill `order` (`stop` if none): one
    vectorized search over the float columns, so a good-till-canceled order waiting for
    months costs the same as a day order. It may only err towards a candidate too many
    (within _NEAR), never skip a fill: the caller checks each candidate exactly.
    (Open and close lie within [low, high]: the loader widens the range.)"""
    if start >= stop or order.type == "market":
        return start
    buy = order.side == "buy"
    levels: list[tuple[bool, float]] = []  # (falls to it: test the low, level)
    if order.limit_price is not None and order.type == "limit":
        levels.append((buy, float(order.limit_price)))
    if order.stop_price is not None and (order.type == "stop" or order.order_class == "oco"):
        levels.append((not buy, float(order.stop_price)))
    hit = np.zeros(stop - start, dtype=bool)
    for falls, level in levels:
        if falls:
            hit |= series.low[start:stop] <= level + _NEAR
        else:
            hit |= series.high[start:stop] >= level - _NEAR
    found = np.flatnonzero(hit)
    return start + int(found[0]) if len(found) else stop


def fill_price(order: OrderRequest, bar: Bar) -> Decimal | None:
    """The price `bar` fills the order at, or None. Market: the open. A limit fills at the
    open when the open is already through it, else at the limit when the range reaches it;
    a stop likewise (a gap through the stop fills at the open). An OCO sell checks its stop
    first: when one bar reaches both, the worse outcome is assumed."""
    limit, stop = order.limit_price, order.stop_price
    if order.order_class == "oco":
        assert limit is not None and stop is not None
        if bar.open <= stop or bar.open >= limit:
            return bar.open
        if bar.low <= stop:
            return stop
        return limit if bar.high >= limit else None
    if order.type == "market":
        return bar.open
    buy = order.side == "buy"
    if order.type == "limit":
        assert limit is not None
        if (bar.open <= limit) if buy else (bar.open >= limit):
            return bar.open
        reached = bar.low <= limit if buy else bar.high >= limit
        return limit if reached else None
    assert stop is not None
    if (bar.open >= stop) if buy else (bar.open <= stop):
        return bar.open
    reached = bar.high >= stop if buy else bar.low <= stop
    return stop if reached else None


def not_reached(order: OrderRequest, bar: Bar) -> str:
    level = order.limit_price if order.type == "limit" else order.stop_price
    low_side = (order.side == "buy") == (order.type == "limit")
    extreme, what = (bar.low, "low") if low_side else (bar.high, "high")
    return f"{order.type} {level} not reached on {bar.date} ({what} {extreme})"


def slipped(price: Decimal | None, order: OrderRequest, bps: Decimal) -> Decimal | None:
    """The fill moved against the order by `bps` basis points (never past a buy limit)."""
    if price is None or not bps:
        return price
    sign = 1 if order.side == "buy" else -1
    moved = (price * (1 + sign * bps / 10_000)).quantize(Decimal("0.0001"))
    return min(moved, order.limit_price) if order.limit_price and sign > 0 else moved


def broker_id(client_order_id: str) -> str:
    return str(uuid.uuid5(_ORDER_NS, client_order_id))


def result(
    order: OrderRequest,
    status: OrderStatus,
    reason: str = "",
    broker_order_id: str | None = None,
    *,
    filled_qty: int = 0,
    filled_avg_price: Decimal | None = None,
    filled_at: str | None = None,
) -> OrderResult:
    return OrderResult.of(
        order,
        status,
        reason,
        broker_order_id=broker_order_id,
        filled_qty=filled_qty,
        filled_avg_price=filled_avg_price,
        filled_at=filled_at,
    )
