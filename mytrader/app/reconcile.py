"""`mytrader reconcile`: the books against the broker account, every difference printed
(exit status 1 when there is one).

The rule (the base recorded at the first cycle, shares and cash of the books against
the broker's, the arena's open orders against the broker's) is `graph.account_check`'s,
which the screener also runs at the start of every live cycle: a difference stops new
BUYs until it is resolved. Here, on the simulated exchange as on Alpaca, the same
comparisons are made and shown.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mytrader.domain.book import Book
from mytrader.domain.models import PendingOrder
from mytrader.domain.open_orders import OpenOrdersReport, left_behind
from mytrader.domain.text import for_terminal as shown
from mytrader.graph.account_check import (
    BASE_KEY,
    Account,
    Base,
    OrderTable,
    Report,
    compare,
    compare_orders,
)
from mytrader.ports.broker import Broker


def fix_records(
    broker: Broker,
    table: OrderTable,
    arena: str,
    as_of: str | None,
    report: OpenOrdersReport,
    cycle: int,
) -> list[str]:
    """Rewrite the rows left open for orders the broker closed (`left_behind`) from the
    broker's record of them; returns their client order ids."""
    fixed = []
    for cid in left_behind(report):
        now = broker.get_order(cid, as_of)
        if now is None or now.is_open:
            continue
        why = f"{now.status} at the broker (row corrected by mytrader reconcile --fix-records)"
        table.correct_trade(arena, now, why, cycle)
        fixed.append(cid)
    return fixed


def print_orders(report: OpenOrdersReport, out: Any) -> None:
    """The table of open orders by client order id, then notes and differences."""
    from rich.table import Table

    table = Table(title="Open orders: broker vs trades table vs state")
    for col in ("client order id", "broker", "trades", "state"):
        table.add_column(col)
    for row in report.rows:
        differs = any(d.startswith(row.client_order_id + ":") for d in report.differences)
        table.add_row(
            row.client_order_id,
            row.broker or "-",
            row.table or "-",
            row.state or "-",
            style="red" if differs else "",
        )
    out.print(table)
    for line in report.notes:
        out.print(f"note: {line}", markup=False, highlight=False, soft_wrap=True)
    if report.clean:
        out.print("[green]open orders: the tables' open orders are the broker's[/green]")
    for line in report.differences:
        out.print(f"difference: {line}", markup=False, highlight=False, soft_wrap=True, style="red")


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


def run_reconcile(settings: Any, out: Any, fix: bool = False) -> int:
    """`mytrader reconcile`: 0 when the books equal the account, 1 when they differ.
    `fix`: first rewrite the rows left open for orders the broker closed."""
    from mytrader.app.runner import open_arena

    with open_arena(settings) as arena:
        broker = arena.services.broker
        out.print(f"[dim]trading on: {shown(describe(broker))}[/dim]")
        values = arena.values()
        key, store, as_of = arena.thread_id, arena.services.store, values.get("as_of")
        last = store.last_cycle(key)
        orders = compare_orders(broker, store, key, as_of, pending_of(values), last)
        if fix and values:
            fixed = fix_records(broker, store, key, as_of, orders, last or 0)
            listed = ", ".join(fixed[:10]) + (
                f", +{len(fixed) - 10} more" if len(fixed) > 10 else ""
            )
            out.print(f"rows corrected: {len(fixed)}" + (f" ({listed})" if fixed else ""))
            orders = compare_orders(broker, store, key, as_of, pending_of(values), last)
        report = None
        books = books_of(values)
        if not isinstance(broker, Account):
            out.print("the simulated exchange keeps no account apart from the books: positions")
            out.print("and cash are the books'")
        elif not books or values.get(BASE_KEY) is None:
            out.print("no cycle has run on this account yet: no positions or cash to reconcile")
        else:
            base = Base.model_validate(values[BASE_KEY])
            report = compare(broker, books, base, pending_of(values))
    if report is not None:
        print_report(report, out)
    print_orders(orders, out)
    return 0 if (report is None or report.clean) and orders.clean else 1
