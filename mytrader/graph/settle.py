"""Booking what the broker filled: the start of every cycle, before anything is decided.

An order placed at cycle t is pending in t's snapshot; at the start of a later cycle the
broker says what became of it (filled, partly filled, canceled, expired) and the fills are
booked to the account that placed it, at the broker's price, with the fee on its first
fill. So every snapshot marks cash and positions at one instant, and offline, live and
backtests share one accounting.
"""

from __future__ import annotations

import logging
from decimal import Decimal

from mytrader.market.broker import Broker
from mytrader.state import Book, BookError
from mytrader.state.models import PendingOrder

log = logging.getLogger(__name__)


def settle(
    broker: Broker,
    books: dict[str, Book],
    pending: list[PendingOrder],
    as_of: str,
    cycle: int,
    fee: Decimal,
) -> tuple[list[PendingOrder], list[PendingOrder]]:
    """Book every fill the broker reports by `as_of`. Returns the orders still open, and
    every order whose record changed (its `trades` row is rewritten)."""
    still_open: list[PendingOrder] = []
    changed: list[PendingOrder] = []
    for entry in pending:
        updated = settle_one(broker, books, entry, as_of, cycle, fee)
        if updated.order.is_open:
            still_open.append(updated)
        if updated != entry:
            changed.append(updated)
    return still_open, changed


def settle_one(
    broker: Broker,
    books: dict[str, Book],
    entry: PendingOrder,
    as_of: str,
    cycle: int,
    fee: Decimal,
) -> PendingOrder:
    order = entry.order
    now = broker.get_order(order.client_order_id, as_of)
    if now is None:
        gone = order.model_copy(update={"status": "rejected", "reason": "unknown at the broker"})
        return entry.model_copy(update={"order": gone})
    book = books.get(order.account)
    realized_total = order.realized_pnl  # of all this order's fills booked so far
    update: dict[str, object] = {"fee": order.fee, "reason": now.reason or order.reason}
    booked_qty, booked_notional = entry.booked_qty, entry.booked_notional
    if now.filled_qty > booked_qty and now.filled_avg_price is not None and book is not None:
        notional = now.filled_qty * now.filled_avg_price
        charge = fee if booked_qty == 0 else Decimal("0")
        try:
            realized, charged = book.book_fill(
                order.side,
                order.symbol,
                now.filled_qty - booked_qty,
                notional - booked_notional,
                charge,
                cycle,
            )
        except BookError as exc:  # never lose the broker's record: say why it isn't booked
            log.error("cannot book %s: %s", order.client_order_id, exc)
            update["reason"] = f"fill not booked: {exc}"
        else:
            booked_qty, booked_notional = now.filled_qty, notional
            update["fee"] = order.fee + charged
            if realized is not None:
                realized_total = (realized_total or Decimal("0")) + realized
    update["realized_pnl"] = realized_total
    if book is not None and booked_qty > 0 and not now.is_open:
        # Done (filled, or canceled or expired after a partial fill): one trade, and a
        # sell's win or loss on all it realized, however many fills it took.
        book.count_order(order.side, realized_total)
    return entry.model_copy(
        update={
            "order": now.model_copy(update=update),
            "booked_qty": booked_qty,
            "booked_notional": booked_notional,
        }
    )
