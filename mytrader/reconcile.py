"""Books over one broker account: the sum of the books must be what the broker holds.

All books trade through one Alpaca account; each is a virtual sub-account of it. At the
arena's first cycle the account's surplus over the books is recorded as the *base*
(cash beyond the books' starting cash, shares held before the arena). From then on, for
every symbol, the broker's shares must equal the base's plus the books', and the broker's
cash must equal the base's plus every book's cash and fees (the books pay
`FEE_PER_TRADE`; Alpaca charges no commission, so the fees are still in the account).

`mytrader reconcile` prints every difference and exits 1 when there is one; the screener
runs the same check at the start of every live cycle, and a difference stops new BUYs
until it is resolved.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any, Protocol, runtime_checkable

from pydantic import BaseModel, Field

from mytrader.domain.text import for_terminal as shown
from mytrader.state.book import Book
from mytrader.state.models import OrderResult, PendingOrder

CENT = Decimal("0.01")
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


def pending_of(values: Mapping[str, Any]) -> list[PendingOrder]:
    return [PendingOrder.model_validate(p) for p in values.get("pending") or []]


def books_of(values: Mapping[str, Any]) -> dict[str, Book]:
    return {a: Book.model_validate(b) for a, b in (values.get("books") or {}).items()}


def describe(broker: object) -> str:
    """Which broker and account a command trades on (said at the start of every command)."""
    text = getattr(broker, "describe", None)
    if callable(text):
        return str(text())
    return "simulated exchange (offline: bundled market history, no account)"


def print_report(report: Report, out: Any) -> None:
    """The table of positions and cash, then every difference (`out` is a rich Console)."""
    from rich.table import Table

    table = Table(title="Broker account vs books")
    for col in ("symbol", "broker", "books + base"):
        table.add_column(col, justify="left" if col == "symbol" else "right")
    for sym, have, want in report.rows:
        style = "red" if have != want else ""
        table.add_row(shown(sym), str(have), str(want), style=style)
    table.add_row("cash", f"{report.broker_cash:,.2f}", f"{report.expected_cash:,.2f}")
    out.print(table)
    if report.clean:
        out.print("[green]reconciled: the books equal the broker's account[/green]")
    for line in report.differences:
        out.print(f"[red]difference: {shown(line)}[/red]")


def run_reconcile(settings: Any, out: Any) -> int:
    """`mytrader reconcile`: 0 when the books equal the account, 1 when they differ."""
    from mytrader.runner import open_arena

    with open_arena(settings) as arena:
        broker = arena.services.broker
        out.print(f"[dim]trading on: {shown(describe(broker))}[/dim]")
        if not isinstance(broker, Account):
            out.print("the simulated exchange keeps no account apart from the books: nothing to do")
            return 0
        values = arena.values()
        books = books_of(values)
        if not books or values.get(BASE_KEY) is None:
            out.print("no cycle has run on this account yet: nothing to reconcile")
            return 0
        report = compare(broker, books, Base.model_validate(values[BASE_KEY]), pending_of(values))
    print_report(report, out)
    return 0 if report.clean else 1


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
