"""Booking what the broker filled: the start of every cycle, before anything is decided.

An order placed at cycle t is pending in t's snapshot; at the start of a later cycle the
broker says what became of it (filled, partly filled, canceled, expired) and the fills are
booked to the account that placed it, at the broker's price, with the fee on its first
fill. So every snapshot marks cash and positions at one instant, and offline, live and
backtests share one accounting.

An order the executor cancels (a protective order replaced, or canceled before a SELL)
ends within the cycle: `ended` turns its pending entry into the broker's canceled order,
saying why, and the record node rewrites the row of every entry that ended
(`ended_orders`), so the `trades` table never calls open an order the broker closed.
"""

from __future__ import annotations

import logging
from decimal import Decimal

from mytrader.domain.book import Book, BookError
from mytrader.domain.models import OrderResult, PendingOrder
from mytrader.ports.broker import Broker

log = logging.getLogger(__name__)

# The reason of an order the arena canceled starts so; the broker's own reason (the
# simulated exchange's "canceled on <day>") never overwrites why the arena canceled it.
CANCELED_BY_ARENA = "canceled: "


def reason_of(order: OrderResult, now: OrderResult) -> str:
    """The reason an order's row gives, once the broker reports it as `now`."""
    if not order.reason.startswith(CANCELED_BY_ARENA):
        return now.reason or order.reason
    if now.is_open or now.status == "canceled":  # open: the cancel is still under way
        return order.reason
    return f"{now.status} before the cancel ({order.reason.removeprefix(CANCELED_BY_ARENA)})"


def ended(entry: PendingOrder, now: OrderResult, why: str) -> PendingOrder:
    """The pending entry of an order the arena canceled, as the cancel left it: the
    broker's order (a fill that came first stays a fill), what was booked of it kept, and
    why it was canceled. Still pending in the state, so the next settlement books a fill
    the cancel did not stop; its row is rewritten this cycle (`ended_orders`)."""
    asked = entry.order.model_copy(update={"reason": CANCELED_BY_ARENA + why})
    kept = now.model_copy(
        update={
            "fee": entry.order.fee,
            "purpose": entry.order.purpose,
            "realized_pnl": entry.order.realized_pnl,
            "reason": reason_of(asked, now),
        }
    )
    return entry.model_copy(update={"order": kept})


def ended_orders(pending: list[PendingOrder]) -> list[PendingOrder]:
    """The entries that ended during this cycle's executor (settlement keeps open ones
    only, so a closed entry after the executor is one it canceled): rows to rewrite."""
    return [p for p in pending if not p.order.is_open]


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
        if updated == entry:
            updated = entry  # nothing new: the entry itself goes on (and its state JSON)
        else:
            changed.append(updated)
        if updated.order.is_open:
            still_open.append(updated)
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
    update: dict[str, object] = {"fee": order.fee, "reason": reason_of(order, now)}
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
