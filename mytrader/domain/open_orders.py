"""Open orders: the broker's against the arena's own records (the reconcile compare).

Three views say which orders are open: the broker's (the truth), the arena's state (the
pending orders the next cycle settles) and the `trades` table (what a person reads).
After every cycle the three are equal. Between cycles an order may fill, expire or be
canceled at the broker before the next cycle books it: an order both the state and the
table call open that the broker has closed since is a note, not a difference (the next
settlement books it). An order of a cycle not recorded yet (in progress, or interrupted
before its record) is a note too. Everything else is a difference, named by client
order id.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass

OPEN = frozenset({"pending", "partially_filled"})


@dataclass(frozen=True)
class OrderViews:
    """What each view says of one order: its status there ('' when it has none)."""

    client_order_id: str
    broker: str
    table: str
    state: str  # 'open', '' (not held), or 'n/a' when the state was not read


@dataclass(frozen=True)
class OpenOrdersReport:
    rows: tuple[OrderViews, ...]  # every order open in at least one view
    differences: tuple[str, ...]
    notes: tuple[str, ...]

    @property
    def clean(self) -> bool:
        return not self.differences


@dataclass(frozen=True)
class Views:
    """The inputs, as plain values (client order id -> status)."""

    broker_open: Mapping[str, str]  # the arena's orders open at the broker
    broker_other: Mapping[str, str]  # the broker's status of the others asked ('' unknown)
    table: Mapping[str, str]  # the trades rows' status of every order asked
    state_open: Collection[str] | None  # the orders the state holds open; None: not read
    cycles: Mapping[str, int]  # the cycle that placed each order (from its id)
    last_recorded: int | None  # the last cycle the tables hold


def _said(status: str, where: str) -> str:
    return f"{where} says {status}" if status else f"{where} has no such order"


def _judge(o: OrderViews, v: Views) -> tuple[str | None, str | None]:
    """(difference, note) for one order."""
    broker_open = o.client_order_id in v.broker_open
    table_open = o.table in OPEN
    state_open = v.state_open is None or o.client_order_id in v.state_open
    if broker_open and table_open and state_open:
        return None, None
    cycle = v.cycles.get(o.client_order_id)
    if broker_open and cycle is not None and (v.last_recorded or 0) < cycle:
        return None, f"{o.client_order_id}: placed by cycle {cycle}, not recorded yet"
    if broker_open:
        views = [_said(o.table, "the trades table")]
        if not state_open:
            views.append("the arena's state does not hold it open")
        return f"{o.client_order_id}: open at the broker ({o.broker}), " + "; ".join(views), None
    if not o.broker:
        return f"{o.client_order_id}: the arena calls it open, the broker does not know it", None
    if table_open and state_open:
        note = f"{o.client_order_id}: {o.broker} at the broker since the last cycle"
        return None, note + " (the next cycle books it)"
    views = [f"the trades table says {o.table}" if table_open else _said(o.table, "the table")]
    if v.state_open is not None:
        views.append("the state holds it open" if state_open else "the state does not")
    return f"{o.client_order_id}: {o.broker} at the broker, but " + "; ".join(views), None


def compare_open_orders(views: Views) -> OpenOrdersReport:
    """Every order open in any view, and what differs, in client order id order."""
    state = set(views.state_open or ())
    table_open = {c for c, s in views.table.items() if s in OPEN}
    rows, differences, notes = [], [], []
    for cid in sorted(set(views.broker_open) | table_open | state):
        broker = views.broker_open.get(cid) or views.broker_other.get(cid, "")
        held = "n/a" if views.state_open is None else ("open" if cid in state else "")
        row = OrderViews(cid, broker, views.table.get(cid, ""), held)
        rows.append(row)
        difference, note = _judge(row, views)
        differences += [difference] if difference else []
        notes += [note] if note else []
    return OpenOrdersReport(tuple(rows), tuple(differences), tuple(notes))


def left_behind(report: OpenOrdersReport) -> list[str]:
    """Rows the table calls open for orders the broker closed that the arena's state no
    longer holds: nothing will ever rewrite them (records written before every row
    followed its order to the end). `mytrader reconcile --fix-records` rewrites them."""
    return [
        r.client_order_id
        for r in report.rows
        if r.table in OPEN and r.state == "" and r.broker and r.broker not in OPEN
    ]
