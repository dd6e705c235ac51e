"""The books against the broker's account, checked at the start of every live cycle.

All books trade through one broker account; each is a virtual sub-account of it. At the
arena's first cycle the account's surplus over the books is recorded as the *base*
(cash beyond the books' starting cash, shares held before the arena). From then on, for
every symbol, the broker's shares must equal the base's plus the books', and the broker's
cash must equal the base's plus every book's cash and fees (the books pay
`FEE_PER_TRADE`; Alpaca charges no commission, so the fees are still in the account).
Open orders too: the arena's orders open at the broker must be exactly those the `trades`
table and the arena's state call open (`mytrader.domain.open_orders` says what differs).

The screener runs the positions and cash check at the start of every live cycle (a
difference stops new BUYs until it is resolved); `mytrader reconcile` and `status`
(mytrader.app) print the same comparisons.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any, Protocol, runtime_checkable

from pydantic import BaseModel, Field

from mytrader.domain.book import Book
from mytrader.domain.models import OrderResult, PendingOrder
from mytrader.domain.money import CENT
from mytrader.domain.open_orders import OpenOrdersReport, Views, compare_open_orders
from mytrader.domain.order_ids import arena_prefix
from mytrader.ports.broker import Broker

BASE_KEY = "broker_base"  # graph state key of the account's Base
DIFF_KEY = "reconcile"  # graph state key of this cycle's differences (list of text)

log = logging.getLogger(__name__)


@runtime_checkable
class Account(Protocol):
    """What a broker with a real account offers (the AlpacaBroker)."""

    def account_cash(self) -> Decimal: ...

    def positions(self) -> dict[str, int]: ...

    def get_order(self, client_order_id: str, as_of: str | None = None) -> OrderResult | None: ...


class Base(BaseModel):
    """The account's part that belongs to no book, recorded when the books open."""

    cash: Decimal
    positions: dict[str, int] = Field(default_factory=dict)


class Report(BaseModel):
    broker_cash: Decimal
    expected_cash: Decimal
    rows: list[tuple[str, int, int]]  # symbol, broker, books + base
    differences: list[str]

    @property
    def clean(self) -> bool:
        return not self.differences


def has_account(broker: object) -> bool:
    return isinstance(broker, Account)


def open_base(broker: Account, books: Mapping[str, Book]) -> Base:
    """The base at the arena's first cycle: what the account holds beyond the books."""
    cash = broker.account_cash() - sum((b.cash for b in books.values()), Decimal(0))
    return Base(cash=cash, positions=broker.positions())


def compare(
    broker: Account,
    books: Mapping[str, Book],
    base: Base,
    pending: Sequence[PendingOrder] = (),
) -> Report:
    """Every difference between the broker's account and base + books. Between cycles,
    `pending` orders may have filled at the broker already: those fills are booked at the
    next cycle's start, so they are counted here as if booked."""
    expected_cash = base.cash + sum((b.cash + b.fees for b in books.values()), Decimal(0))
    expected: dict[str, int] = dict(base.positions)
    for book in books.values():
        for sym, pos in book.positions.items():
            expected[sym] = expected.get(sym, 0) + pos.qty
    for entry in pending:
        now = broker.get_order(entry.order.client_order_id)
        if now is None or now.filled_avg_price is None or now.filled_qty <= entry.booked_qty:
            continue
        qty = now.filled_qty - entry.booked_qty
        notional = now.filled_qty * now.filled_avg_price - entry.booked_notional
        sign = 1 if entry.order.side == "buy" else -1
        expected[entry.order.symbol] = expected.get(entry.order.symbol, 0) + sign * qty
        expected_cash -= sign * notional
    held = broker.positions()
    cash = broker.account_cash()
    rows, differences = [], []
    for sym in sorted(set(held) | set(expected)):
        have, want = held.get(sym, 0), expected.get(sym, 0)
        rows.append((sym, have, want))
        if have != want:
            owners = ", ".join(f"{b.account} {b.qty(sym)}" for b in books.values() if b.qty(sym))
            differences.append(
                f"{sym}: broker holds {have}, books hold {want}"
                + (f" ({owners})" if owners else "")
            )
    if cash.quantize(CENT) != expected_cash.quantize(CENT):
        differences.append(
            f"cash: broker has {cash:.2f}, books and base account for {expected_cash:.2f}"
            f" (difference {cash - expected_cash:+.2f})"
        )
    return Report(broker_cash=cash, expected_cash=expected_cash, rows=rows, differences=differences)


# --- open orders ---------------------------------------------------------------------


class OrderTable(Protocol):
    """What the comparison reads of the `trades` table (the ArenaStore)."""

    def open_trades(self, arena: str) -> dict[str, str]: ...

    def trade_statuses(self, arena: str, client_order_ids: Sequence[str]) -> dict[str, str]: ...

    def correct_trade(self, arena: str, order: OrderResult, reason: str, cycle: int) -> None: ...


def cycle_of(client_order_id: str, arena: str) -> int | None:
    """The cycle in one of this arena's order ids (`{arena}-{cycle}-...`); None if the id
    is not the arena's (another arena's, or an order placed outside the arena)."""
    found = re.match(re.escape(arena_prefix(arena)) + r"-(\d+)-", client_order_id)
    return int(found.group(1)) if found else None


def arena_open_orders(broker: Broker, arena: str, as_of: str | None) -> list[OrderResult]:
    """The arena's orders the broker holds open at `as_of` (live: now). Alpaca lists its
    open orders whatever their age; the simulated exchange answers by id prefix."""
    listing = getattr(broker, "open_orders", None)
    if callable(listing):
        orders: list[OrderResult] = listing(as_of)
    else:
        orders = broker.find_orders(arena_prefix(arena) + "-", as_of)
    return [o for o in orders if o.is_open and cycle_of(o.client_order_id, arena) is not None]


def compare_orders(
    broker: Broker,
    table: OrderTable,
    arena: str,
    as_of: str | None,
    pending: Sequence[PendingOrder] | None,
    last_recorded: int | None,
) -> OpenOrdersReport:
    """The broker's open orders against the trades table's and (when read) the state's."""
    at_broker = {o.client_order_id: o.status for o in arena_open_orders(broker, arena, as_of)}
    recorded = table.open_trades(arena)
    state = (
        None if pending is None else {p.order.client_order_id for p in pending if p.order.is_open}
    )
    others: dict[str, str] = {}
    for cid in sorted((set(recorded) | (state or set())) - set(at_broker)):
        now = broker.get_order(cid, as_of)
        others[cid] = now.status if now is not None else ""
    unrecorded = sorted(set(at_broker) - set(recorded))
    every = set(at_broker) | set(recorded) | (state or set())
    return compare_open_orders(
        Views(
            broker_open=at_broker,
            broker_other=others,
            table={**table.trade_statuses(arena, unrecorded), **recorded},
            state_open=state,
            cycles={c: n for c in every if (n := cycle_of(c, arena)) is not None},
            last_recorded=last_recorded,
        )
    )


def cycle_check(broker: object, books: Mapping[str, Book], base: Any) -> dict[str, Any]:
    """The screener's check at the start of a live cycle (after the fills are booked):
    the base is recorded on the first cycle; the differences go to the state, where the
    executor reads them (a difference stops new BUYs)."""
    if not isinstance(broker, Account):
        return {}
    known = Base.model_validate(base) if base else open_base(broker, books)
    report = compare(broker, books, known)
    for line in report.differences:
        log.error("reconcile: %s", line)
    return {BASE_KEY: known.model_dump(mode="json"), DIFF_KEY: report.differences}


def buys_blocked(differences: list[str] | None) -> str:
    """Why a BUY is refused this cycle ('' when the books equal the account)."""
    if not differences:
        return ""
    return (
        f"books differ from the broker's account ({differences[0]}"
        + (f"; +{len(differences) - 1} more" if len(differences) > 1 else "")
        + "): no new BUY until `mytrader reconcile` is clean"
    )
