"""record: writes the cycle to the database, in one transaction, and marks the books.

trades (every executor leg, refused ones included, the rows of earlier orders booked
at this cycle's start, and of orders the executor canceled), agent_logs (THOUGHT,
CRITIQUE, DECISION), llm_usage and one portfolio snapshot per account: cash and
positions after this cycle's bookings, marked at this cycle's prices (one instant);
orders placed this cycle are pending in it. Rows are keyed by (arena, cycle, ...) so a
rerun of this node writes nothing twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any, TypeVar

from langgraph.config import get_config
from langgraph.runtime import Runtime
from pydantic import BaseModel

from mytrader.domain.book import Book
from mytrader.domain.models import MarketView, OrderResult, PendingOrder
from mytrader.domain.records import CycleRecord, LogEntry, Snapshot, Usage
from mytrader.domain.text import scrub_secrets
from mytrader.graph.context import ArenaContext, ArenaServices, StateNode, arena_key
from mytrader.graph.settle import ended_orders
from mytrader.graph.state import ArenaState
from mytrader.graph.typed import fresh, shared, shared_list

Row = TypeVar("Row", bound=BaseModel)


def snapshot_of(book: Book, prices: dict[str, Any], cycle: int, as_of: str) -> Snapshot:
    value = book.positions_value(prices)
    return Snapshot(
        account=book.account,
        cycle=cycle,
        as_of=as_of,
        cash=book.cash,
        positions_value=value,
        equity=book.cash + value,
        realized_pnl=book.realized_pnl,
        fees=book.fees,
        trades=book.trades,
        wins=book.wins,
        losses=book.losses,
        starting_cash=book.starting_cash,
        positions={s: p.qty for s, p in sorted(book.positions.items())},
    )


def spent_on(entry: dict[str, str] | None, day: str) -> str:
    """Dollars spent on `day` by one agent, from its running spend entry."""
    return entry["usd"] if entry and entry.get("day") == day else "0"


def add_spend(
    spend: dict[str, dict[str, str]], usage: list[Usage], day: str
) -> dict[str, dict[str, str]]:
    out = dict(spend)
    for u in usage:
        total = Decimal(spent_on(out.get(u.agent), day)) + u.cost_usd
        out[u.agent] = {"day": day, "usd": str(total)}
    return out


def rows_to_rewrite(
    settled: list[PendingOrder], pending: list[PendingOrder], legs: list[OrderResult]
) -> list[PendingOrder]:
    """Orders of which this cycle learned something new: those settled at its start, then
    those its executor canceled (`ended_orders`; a leg of this cycle that was canceled
    too, not one that filled at once). One entry per order, the latest."""
    placed = {o.client_order_id: o for o in legs}
    ended = [p for p in ended_orders(pending) if placed.get(p.order.client_order_id) != p.order]
    latest = {p.order.client_order_id: p for p in [*settled, *ended]}
    return list(latest.values())


def scrubbed(row: Row, field: str, secrets: Sequence[str]) -> Row:
    """`row` with the secrets masked in its text `field` (a broker's reason, a tool's
    result): the one place the cycle's rows pass before the database."""
    text = getattr(row, field)
    clean = scrub_secrets(text, secrets)
    return row if clean == text else row.model_copy(update={field: clean})


def make_record(services: ArenaServices) -> StateNode:
    def record(state: ArenaState, runtime: Runtime[ArenaContext]) -> dict[str, Any]:
        knobs = services.knobs(runtime)
        return record_cycle(services, knobs, arena_key(get_config(), knobs.arena_id), state)

    return record


def record_cycle(
    services: ArenaServices, knobs: ArenaContext, arena: str, state: ArenaState
) -> dict[str, Any]:
    """The record node's work (also `mytrader repair`'s, outside a run): the rows, then
    the marked books and the day's spend."""
    cycle, as_of = state["cycle"], state["as_of"] or ""
    view = shared(MarketView, state["market"])
    prices = {s: v.price for s, v in view.symbols.items()}
    accounts = knobs.accounts
    books = {a: fresh(Book, state["books"][a]) for a in accounts}  # marked below
    usage = shared_list(Usage, (state.get("usage") or {}).values())
    snapshots = [snapshot_of(books[a], prices, cycle, as_of) for a in accounts]
    for book in books.values():
        book.mark(prices, day=as_of[:10])
    legs = shared_list(OrderResult, state.get("orders"))
    settled = rows_to_rewrite(
        shared_list(PendingOrder, state.get("settled")),
        shared_list(PendingOrder, state.get("pending")),
        legs,
    )
    services.store.record_cycle(
        CycleRecord(
            arena=arena,
            cycle=cycle,
            as_of=as_of,
            trades=[scrubbed(o, "reason", services.secrets) for o in legs],
            settled=settled,
            benchmark=view.benchmark,
            logs=[
                scrubbed(e, "content", services.secrets)
                for e in shared_list(LogEntry, state.get("logs"))
            ],
            snapshots=snapshots,
            usage=usage,
        )
    )
    return {
        "books": {a: b.model_dump(mode="json") for a, b in books.items()},
        "spend": add_spend(state.get("spend") or {}, usage, as_of[:10]),
    }
