"""Stops at the broker: a book's stop-loss and take-profit live at the broker as one
protective order per book and symbol, so they hold while this process is down.

After a BUY has filled (the screener booked it), the executor places, for each held
symbol of each book, a good-till-canceled sell of the whole position: an OCO of a
take-profit limit at cost + TAKE_PROFIT_PCT and a stop at cost - STOP_LOSS_PCT (a plain
stop or limit when one of them is 0). Whichever triggers first fills it, the other is
canceled by the broker, and the fill is booked to its book like any order (it is pending
in the graph state until then). When the position changes (it grew, or a part was sold)
the order is replaced; when the price is beyond a level already, a market sell exits
instead (a stop above the market would be refused, or fill at once anyway).

A SELL decision first cancels that book's protective order on the symbol: the broker holds
the shares for open orders and would refuse the sell otherwise. A BUY of a symbol cancels
every book's protective sell of it first (the account's order manager, see
`mytrader.domain.order_plan`: Alpaca refuses a buy while a sell of the symbol is open);
a symbol's protective orders wait while a BUY of it is open (`wait`), and are placed again
once none is (`only`: the executor's restore).

The simulated exchange runs the same orders (gtc, OCO, stops from the next bars' low and
high, a gap through the stop fills at the open), so offline and live behave alike.
"""

from __future__ import annotations

import logging
from decimal import Decimal

from mytrader.domain.book import Book
from mytrader.domain.limits import RiskLimits
from mytrader.domain.models import OrderRequest, OrderResult, PendingOrder, Purpose
from mytrader.domain.order_ids import arena_prefix, order_id
from mytrader.domain.risk import Leg, Reserved
from mytrader.graph.orders import adopt, gate_and_place
from mytrader.graph.settle import ended
from mytrader.ports.broker import Broker, BrokerError

log = logging.getLogger(__name__)


def protection_of(pending: list[PendingOrder], account: str, symbol: str) -> list[PendingOrder]:
    return [
        p
        for p in pending
        if p.order.is_open
        and p.order.purpose == "protect"
        and p.order.account == account
        and p.order.symbol == symbol
    ]


def release(
    broker: Broker, pending: list[PendingOrder], account: str, leg: Leg | None, as_of: str
) -> list[PendingOrder]:
    """Before a SELL decision: cancel the book's protective orders on its symbol. The
    canceled orders stay pending (closed) so fills made before the cancel are booked."""
    if leg is None or leg.side != "sell":
        return pending
    why = f"frees the shares for the SELL of {leg.qty} {leg.symbol}"
    return cancel(broker, pending, protection_of(pending, account, leg.symbol), as_of, why)


def cancel(
    broker: Broker,
    pending: list[PendingOrder],
    which: list[PendingOrder],
    as_of: str,
    why: str = "canceled by the arena",
) -> list[PendingOrder]:
    out = list(pending)
    for entry in which:
        cid = entry.order.client_order_id
        try:
            now = broker.cancel_order(cid, as_of)
        except BrokerError as exc:
            log.error("cannot cancel protective order %s: %s", cid, exc)
            continue
        if now is not None:  # its row ends this cycle; the next settlement books any fill
            out[out.index(entry)] = ended(entry, now, why)
    return out


def protect(
    broker: Broker,
    limits: RiskLimits,
    arena: str,
    cycle: int,
    book: Book,
    pending: list[PendingOrder],
    decision: Leg | None,
    prices: dict[str, Decimal],
    as_of: str,
    placed: dict[str, OrderResult],
    *,
    wait: frozenset[str] = frozenset(),
    only: frozenset[str] | None = None,
) -> tuple[list[PendingOrder], list[OrderResult]]:
    """Before the account's decision: protect every held symbol of `book` that no sell
    works on (and the decision does not sell): place (or replace) its protective order.
    Returns the pending list (replaced orders canceled) and the new legs (the executor
    records them and keeps the open ones pending). `placed` holds this cycle's orders
    found at the broker after a restart: they are adopted, never doubled. Symbols in
    `wait` (a BUY of them is open on the account) are left alone; `only` restricts the
    symbols looked at."""
    if not limits.protection.active:
        return pending, []
    legs: list[OrderResult] = []
    account = book.account
    working = [p.order for p in pending if p.order.purpose != "protect"] + [
        o for o in placed.values() if o.purpose != "protect"
    ]
    for symbol in sorted(book.positions):
        held = book.qty(symbol)
        if symbol in wait or (only is not None and symbol not in only):
            continue  # the order manager: a BUY of it is open, or not this call's symbol
        if decision is not None and decision.side == "sell" and decision.symbol == symbol:
            continue  # the decision sells it: protect what is left once that is done
        if any(
            o.account == account and o.symbol == symbol and o.side == "sell" and o.is_open
            for o in working
        ):
            continue  # a sell is working: protect what is left once it is done
        guards = protection_of(pending, account, symbol)
        if len(guards) == 1 and guards[0].order.qty - guards[0].booked_qty == held:
            continue  # protected already
        request = protective_request(arena, cycle, book, symbol, held, prices, limits, as_of)
        if request is None:
            continue
        # Named by its id after the arena's prefix: a backtest's rows stay the same whatever
        # its run id (the prefix), and the row of `<arena>-<this>` is the replacement.
        successor = request.client_order_id.removeprefix(arena_prefix(arena) + "-")
        pending = cancel(broker, pending, guards, as_of, f"replaced by {successor}")
        existing = placed.pop(request.client_order_id, None)
        if existing is not None:
            result, stray = adopt(existing, request)
        else:
            result, stray = submit(broker, limits, book, request, prices, pending)
        legs += [result] if stray is None else [result, stray]
    return pending, legs


def protective_request(
    arena: str,
    cycle: int,
    book: Book,
    symbol: str,
    qty: int,
    prices: dict[str, Decimal],
    limits: RiskLimits,
    as_of: str,
) -> OrderRequest | None:
    """The protective order of a position, or a market exit when the price is beyond a
    level already."""
    pos = book.positions[symbol]
    tp, sl = limits.protection.levels(pos.avg_cost)
    common = {"account": book.account, "symbol": symbol, "side": "sell", "qty": qty}
    purpose = exit_purpose(book, symbol, prices, limits)
    if purpose is not None:
        cid = order_id(arena, cycle, book.account, purpose, symbol, "sell")
        return OrderRequest(client_order_id=cid, **common, purpose=purpose, as_of=as_of)  # type: ignore[arg-type]
    cid = order_id(arena, cycle, book.account, "protect", symbol, "sell")
    spec: dict[str, object] = {"time_in_force": "gtc", "purpose": "protect"}
    if tp is not None and sl is not None:
        spec |= {"type": "limit", "order_class": "oco", "limit_price": tp, "stop_price": sl}
    elif tp is not None:
        spec |= {"type": "limit", "limit_price": tp}
    elif sl is not None:
        spec |= {"type": "stop", "stop_price": sl}
    else:
        return None
    return OrderRequest(client_order_id=cid, **common, **spec, as_of=as_of)  # type: ignore[arg-type]


def exit_purpose(
    book: Book, symbol: str, prices: dict[str, Decimal], limits: RiskLimits
) -> Purpose | None:
    """The exit a held position needs now (its price is beyond a level), or None."""
    return limits.protection.trigger(book.positions[symbol].avg_cost, prices.get(symbol))


def submit(
    broker: Broker,
    limits: RiskLimits,
    book: Book,
    request: OrderRequest,
    prices: dict[str, Decimal],
    pending: list[PendingOrder],
) -> tuple[OrderResult, OrderResult | None]:
    """Through the same gate as every leg (tradable, market open, shares free)."""
    reserved = Reserved.of(
        (p for p in pending if p.order.account == book.account and p.order.is_open),
        limits.fee_per_trade,
    )
    leg = Leg(request.symbol, "sell", request.qty, request.purpose, request.purpose)
    reason = "protective order" if request.purpose == "protect" else f"{request.purpose} exit"
    return gate_and_place(broker, leg, book, request, prices, limits, reserved, reason)
