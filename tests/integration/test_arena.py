"""The whole cycle, offline, on the bundled real history, on SQLite and on Postgres."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from mytrader.app.runner import open_arena
from mytrader.app.services import open_broker
from mytrader.app.storage import open_store
from mytrader.config import ACCOUNTS, PERSONAS
from mytrader.domain.book import Book
from mytrader.domain.models import OrderRequest, OrderResult
from mytrader.ports.broker import Broker
from tests.helpers import make_settings


@pytest.fixture
def settings(backend: dict[str, Any]):
    return make_settings(**backend)


def test_cycles_run_record_and_books_reconcile_with_trades(settings):
    with open_arena(settings) as arena:
        summaries = [arena.run_cycle() for _ in range(12)]
        values = arena.values()
        store = arena.services.store
        assert [s.cycle for s in summaries] == list(range(1, 13))
        dates = [s.as_of for s in summaries]
        assert dates == sorted(dates) and len(set(dates)) == 12
        for s in summaries:
            assert set(s.decisions) == set(PERSONAS)
            assert s.vote is not None
        trades = store.trades(settings.arena_id)
        filled = [t for t in trades if t.status == "filled"]
        assert filled, "the house models should trade in 12 cycles"
        for account in ACCOUNTS:
            book = Book.model_validate(values["books"][account])
            cash = settings.starting_cash
            for t in filled:
                if t.account != account:
                    continue
                amount = t.filled_qty * t.filled_avg_price
                cash += (-amount if t.side == "buy" else amount) - t.fee
            assert cash == book.cash, account  # exact: every fill and fee is in trades
            assert book.fees == sum((t.fee for t in filled if t.account == account), Decimal(0))
        snaps = store.snapshots(settings.arena_id)
        assert len(snaps) == 12 * len(ACCOUNTS)
        last = {s.account: s for s in store.latest_snapshots(settings.arena_id)}
        for account in ACCOUNTS:
            assert last[account].cycle == 12
            assert last[account].cash == Book.model_validate(values["books"][account]).cash
        kinds = {row.kind for row in store.agent_logs(settings.arena_id)}
        assert {"THOUGHT", "DECISION"} <= kinds


def test_state_continues_in_a_new_arena_on_the_same_database(settings):
    with open_arena(settings) as arena:
        for _ in range(3):
            arena.run_cycle()
        books_before = arena.values()["books"]
    with open_arena(settings) as again:
        assert again.values()["books"] == books_before
        summary = again.run_cycle()
        assert summary.cycle == 4
        assert again.services.store.last_cycle(settings.arena_id) == 4


def test_books_diverge_and_critiques_happen(backend):
    settings = make_settings(**backend, critique_interval=2)
    with open_arena(settings) as arena:
        for _ in range(30):
            arena.run_cycle()
        values = arena.values()
        books = {a: Book.model_validate(values["books"][a]) for a in PERSONAS}
        fingerprints = {(b.trades, b.cash) for b in books.values()}
        assert len(fingerprints) == 3, "the three personas should not trade alike"
        critiques = arena.services.store.agent_logs(settings.arena_id, kind="CRITIQUE")
        assert critiques, "with critique_interval=2 some agent must have critiqued itself"
        assert values["critiques"], "the last critique of each agent is kept in state"


def test_checkpoint_keeps_no_growing_history(settings):
    with open_arena(settings) as arena:
        arena.run_cycle()
        first = arena.values()
        for _ in range(9):
            arena.run_cycle()
        tenth = arena.values()
    assert set(first) == set(tenth)
    assert len(tenth["logs"]) <= 3 * 4  # this cycle's logs only
    assert len(tenth["orders"]) <= 4 * 10
    for book in tenth["books"].values():
        assert len(book["recent"]) <= 5


class CrashingBroker:
    """Passes everything to the real broker but fails after `fail_after` orders, once."""

    def __init__(self, inner: Broker, fail_after: int) -> None:
        self.inner, self.fail_after, self.submitted = inner, fail_after, 0
        self.armed = True

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def submit_order(self, order: OrderRequest) -> OrderResult:
        if self.armed and self.submitted >= self.fail_after:
            self.armed = False
            raise RuntimeError("simulated crash in the middle of the executor")
        self.submitted += 1
        return self.inner.submit_order(order)


def first_cycle_with_two_orders(settings) -> int:
    """The house models are deterministic: a probe arena finds the cycle to crash in."""
    with open_arena(settings.model_copy(update={"arena_id": "probe"})) as probe:
        for _ in range(80):
            summary = probe.run_cycle()
            if len([o for o in summary.orders if o.status != "refused"]) >= 2:
                return summary.cycle
    raise AssertionError("no cycle with two orders in 80 cycles")


def test_crash_mid_executor_resumes_without_duplicate_orders(settings):
    target = first_cycle_with_two_orders(settings)
    store = open_store(settings)
    real = open_broker(settings, store)
    crashing = CrashingBroker(real, fail_after=10**9)
    with open_arena(settings, broker=crashing, store=store) as arena:
        for _ in range(target - 1):
            arena.run_cycle()
        cycle = target - 1
        crashing.submitted, crashing.fail_after = 0, 1  # the second order of the cycle fails
        with pytest.raises(RuntimeError, match="simulated crash"):
            arena.run_cycle()
        assert arena.graph.get_state(arena.config).next == ("executor",)
        crashed_books = arena.values()["books"]
        resumed = arena.run_cycle()
        assert resumed.resumed and resumed.cycle == cycle + 1
        store = arena.services.store
        rows = [t for t in store.trades(settings.arena_id) if t.cycle == cycle + 1]
        ids = [t.client_order_id for t in rows]
        assert len(ids) == len(set(ids))
        assert {o.client_order_id for o in resumed.orders} == set(ids)
        # The first order was placed before the crash and taken back, not placed again.
        first = resumed.orders[0] if resumed.orders else None
        if first is not None and first.status != "refused":
            assert real.get_order(first.client_order_id) is not None
        # Books moved exactly once per fill.
        for account in ACCOUNTS:
            before = Book.model_validate(crashed_books[account])
            after = Book.model_validate(arena.values()["books"][account])
            fills = [o for o in resumed.orders if o.account == account and o.status == "filled"]
            assert after.trades == before.trades + len(fills)


def test_critique_changes_later_decisions(backend):
    """Same market, same models: an arena whose agents critique themselves decides the same
    until the first critique, and differently after it."""

    def decisions(arena_id: str, interval: int) -> list[dict[str, str]]:
        settings = make_settings(**backend, arena_id=arena_id, critique_interval=interval)
        with open_arena(settings) as arena:
            out = []
            for _ in range(40):
                summary = arena.run_cycle()
                out.append({a: d.decision.model_dump_json() for a, d in summary.decisions.items()})
            critiques = arena.services.store.agent_logs(arena_id, kind="CRITIQUE")
        return out, sorted(r.cycle for r in critiques)

    reviewed, critique_cycles = decisions("reviewed", 2)
    unreviewed, none = decisions("unreviewed", 10_000)
    assert critique_cycles and none == []
    first = critique_cycles[0]
    assert reviewed[: first - 1] == unreviewed[: first - 1]
    assert reviewed[first - 1 :] != unreviewed[first - 1 :]


def test_snapshots_mark_cash_and_positions_at_one_instant(settings):
    """An order placed at cycle t fills at a later open and is booked at the start of the
    cycle of that day, so each snapshot's cash and positions are those of one day."""
    with open_arena(settings) as arena:
        for _ in range(40):
            arena.run_cycle()
        store = arena.services.store
        rows = store.trades(settings.arena_id)
        snaps = store.snapshots(settings.arena_id)
    days = {s.cycle: s.as_of for s in snaps}
    fills = [t for t in rows if t.status == "filled"]
    assert fills, "house models trade in 40 cycles"
    for t in fills:
        assert t.booked_cycle is not None and t.booked_cycle > t.cycle
        assert t.as_of < t.filled_at <= days[t.booked_cycle]  # after the decision, by the booking
    for snap in snaps:
        booked = [t for t in fills if t.account == snap.account and t.booked_cycle <= snap.cycle]
        cash = snap.starting_cash
        held: dict[str, int] = {}
        for t in booked:
            sign = -1 if t.side == "buy" else 1
            cash += sign * t.filled_qty * t.filled_avg_price - t.fee
            held[t.symbol] = held.get(t.symbol, 0) + (-sign) * t.filled_qty
        assert snap.cash == cash
        assert snap.positions == {s: q for s, q in sorted(held.items()) if q}
    pending = [t for t in rows if t.status == "pending"]
    assert all(t.booked_cycle is None for t in pending)
