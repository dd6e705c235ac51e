"""Order records equal the broker's: every order's `trades` row follows its life to the end
(a replaced or canceled protective order ends `canceled` saying why, a partial fill shows
as it is, a refused BUY keeps its limit), and after every cycle the orders the tables call
open are exactly the broker's open orders: on the simulated exchange, and through the
real alpaca-py against the local Alpaca server, on SQLite and PostgreSQL."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from mytrader.adapters.alpaca.broker import AlpacaBroker, AlpacaConfig
from mytrader.adapters.sim.exchange import SimulatedExchange
from mytrader.adapters.store import StoreLedger
from mytrader.app.context import risk_limits
from mytrader.app.reconcile import pending_of
from mytrader.app.runner import Arena, open_arena
from mytrader.app.services import cached_history, open_services
from mytrader.app.storage import open_store
from mytrader.cli import main as cli
from mytrader.domain.book import Book
from mytrader.domain.models import AgentDecision
from mytrader.graph.account_check import compare_orders
from mytrader.tools.market_view import build_market_view
from mytrader.web.serve import build
from tests.dashboard_support import live_server
from tests.helpers import cycle_state, decision, make_settings, run_executor
from tests.integration.test_cli import env_for
from tests.servers.alpaca_server import OPEN_STATUSES, AlpacaServer, OrderScript

ARENA = "arena"
CONFIG: Any = {"configurable": {"thread_id": ARENA}}


def open_in_state(arena: Arena) -> set[str]:
    return {p.order.client_order_id for p in pending_of(arena.values()) if p.order.is_open}


def sim_open(arena: Arena, as_of: str) -> set[str]:
    orders = arena.services.broker.find_orders(f"{ARENA}-", as_of)
    return {o.client_order_id for o in orders if o.is_open}


def test_after_every_sim_cycle_the_tables_open_orders_are_the_exchanges(backend) -> None:
    settings = make_settings(**backend)
    with open_arena(settings) as arena:
        store = arena.services.store
        for _ in range(90):
            summary = arena.run_cycle()
            recorded = set(store.open_trades(ARENA))
            assert recorded == sim_open(arena, summary.as_of), f"cycle {summary.cycle}"
            assert recorded == open_in_state(arena), f"cycle {summary.cycle}"
        values = arena.values()
        report = compare_orders(
            arena.services.broker, store, ARENA, values["as_of"], pending_of(values), 90
        )
        rows = store.trades(ARENA)
    assert report.clean and report.rows, report.differences
    canceled = [r for r in rows if r.status == "canceled"]
    replaced = [r for r in canceled if r.reason.startswith("canceled: replaced by ")]
    for_sell = [r for r in canceled if r.reason.startswith("canceled: frees the shares for")]
    for_buy = [r for r in canceled if r.reason.startswith("canceled: for a BUY of the symbol")]
    # A position grows only by a BUY, which cancels its protection first (the order
    # manager): a replacement is rare, so only its form is checked when there is one.
    assert for_sell and for_buy, [r.reason for r in canceled]
    by_id = {r.client_order_id: r for r in rows}
    for row in replaced:  # the order named as its replacement exists, same book and symbol
        new = by_id[f"{ARENA}-" + row.reason.removeprefix("canceled: replaced by ")]
        assert (new.account, new.symbol, new.side) == (row.account, row.symbol, "sell")
        assert new.cycle == row.booked_cycle  # it was replaced in the cycle that placed it
    assert all(r.purpose == "protect" and r.booked_cycle for r in canceled)


def alpaca_open(srv: AlpacaServer) -> set[str]:
    """The server's own truth: the top-level orders it holds open."""
    return {
        o.client_order_id
        for o in srv.orders.values()
        if o.parent is None and o.status in OPEN_STATUSES
    }


@pytest.mark.slow
def test_after_every_alpaca_cycle_the_tables_open_orders_are_the_servers(backend) -> None:
    # No wait for fills within a cycle: the local server fills at the next session only.
    settings = make_settings(**backend, starting_cash=Decimal("25000"), fill_wait_s=0)
    with AlpacaServer(cash=Decimal("100000"), tick_on_clock=True) as srv:
        broker = AlpacaBroker(
            AlpacaConfig.of("k", "s", base_url=srv.base_url, data_url=srv.base_url, timeout=2.0)
        )
        # The first orders fill one share at their fill bar: a BUY (a day order) expires
        # with it, a protective sell (gtc) gets the rest at the next bar.
        srv.script_order(OrderScript(partial=1, times=8))
        with open_arena(settings, broker=broker) as arena:
            store = arena.services.store
            for _ in range(24):
                summary = arena.run_cycle()
                recorded = set(store.open_trades(ARENA))
                assert recorded == alpaca_open(srv), f"cycle {summary.cycle}"
                assert recorded == open_in_state(arena), f"cycle {summary.cycle}"
            values = arena.values()
            report = compare_orders(broker, store, ARENA, None, pending_of(values), 24)
            rows = store.trades(ARENA)
    assert report.clean and report.rows, report.differences
    statuses = {r.status for r in rows}
    assert "canceled" in statuses, statuses
    partial = [r for r in rows if 0 < r.filled_qty < r.qty]
    assert partial, "a scripted partial fill must show as it is"
    for row in partial:  # ended with what filled, at the server's price
        assert row.status in ("expired", "canceled") and row.filled_avg_price is not None
        server = srv.orders_by_cid(row.client_order_id)
        assert server is not None and server.filled_qty == row.filled_qty


def test_a_refused_buy_keeps_the_limit_it_was_priced_at(settings) -> None:
    with open_store(settings) as store:
        sim = SimulatedExchange(cached_history(None), ledger=StoreLedger(store), warmup_days=60)
        services = open_services(settings, broker=sim, store=store)
        view = build_market_view(sim, "2024-06-03", ["AAPL"], 1)
        books = {a: Book.open(a, settings.starting_cash) for a in settings.accounts}
        too_many = AgentDecision(agent="grok", decision=decision("BUY", "AAPL", 100_000, 90))
        state = cycle_state(3, view, books, {"grok": too_many})
        out = run_executor(services, state, CONFIG)
    (leg,) = [o for o in out["orders"] if o["account"] == "grok"]
    assert leg["status"] == "refused"
    limit = risk_limits(settings).buy_limit(view.symbols["AAPL"].price)
    assert (leg["type"], Decimal(leg["limit_price"])) == ("limit", limit)


def set_status(settings, cid: str, status: str) -> None:
    """A row that drifted from the broker (what the tables held before this fix)."""
    with open_store(settings) as store, store._tx() as tx:
        tx.run("UPDATE trades SET status = ? WHERE client_order_id = ?", (status, cid))


def invoke(backend, tmp_path, monkeypatch, *args: str):
    monkeypatch.chdir(tmp_path)  # no developer .env
    for name, value in env_for(backend).items():
        monkeypatch.setenv(name, value)
    return CliRunner().invoke(cli.app, list(args))


def test_reconcile_and_status_compare_open_orders(backend, tmp_path, monkeypatch) -> None:
    settings = make_settings(**backend)
    with open_arena(settings) as arena:
        for _ in range(8):
            summary = arena.run_cycle()
        rows = arena.services.store.trades(ARENA)
    open_now = sorted(r.client_order_id for r in rows if r.is_open)
    closed = next(r.client_order_id for r in rows if r.status == "canceled")
    assert len(open_now) >= 2
    clean = invoke(backend, tmp_path, monkeypatch, "reconcile")
    assert clean.exit_code == 0, clean.output
    assert "open orders: the tables' open orders are the broker's" in clean.output
    assert all(c in clean.output for c in open_now)
    assert "healthy" in invoke(backend, tmp_path, monkeypatch, "status").output
    listed = invoke(backend, tmp_path, monkeypatch, "trades", "--cycles", "8").output
    assert "│ canceled │" in listed and "pending" in listed  # in full, in 80 columns

    # Canceled at the broker since the cycle (by hand, or a fill live): the next cycle
    # books it, so it is a note, not a difference.
    with open_store(settings) as store:
        open_services(settings, store=store).broker.cancel_order(open_now[0], summary.as_of)
    noted = invoke(backend, tmp_path, monkeypatch, "reconcile")
    assert noted.exit_code == 0, noted.output
    assert f"note: {open_now[0]}: canceled at the broker since the last cycle" in noted.output

    # The tables drift from the broker, both ways: each is listed by client order id.
    set_status(settings, open_now[1], "canceled")
    set_status(settings, closed, "pending")
    rec = invoke(backend, tmp_path, monkeypatch, "reconcile")
    assert rec.exit_code == 1, rec.output
    assert (
        f"difference: {open_now[1]}: open at the broker (pending), the trades table says canceled\n"
    ) in rec.output
    assert (
        f"difference: {closed}: canceled at the broker, but the trades table says pending; "
        "the state does not"
    ) in rec.output
    st = invoke(backend, tmp_path, monkeypatch, "status")
    assert st.exit_code == 1 and "UNHEALTHY" in st.output, st.output
    assert "open orders differ from the broker's" in st.output
    assert closed in st.output and open_now[1] in st.output

    # A row left open for an order the broker closed (as the tables held them before) is
    # rewritten from the broker's record; the other difference is not the table's to fix.
    fixed = invoke(backend, tmp_path, monkeypatch, "reconcile", "--fix-records")
    assert f"rows corrected: 1 ({closed})" in fixed.output and fixed.exit_code == 1
    assert (
        f"difference: {closed}" not in fixed.output and f"difference: {open_now[1]}" in fixed.output
    )
    with open_store(settings) as store:
        (row,) = [r for r in store.trades(ARENA) if r.client_order_id == closed]
    assert row.status == "canceled" and "reconcile --fix-records" in row.reason


def test_the_dashboard_shows_a_canceled_order_as_canceled(settings) -> None:
    with open_arena(settings) as arena:
        for _ in range(8):
            arena.run_cycle()
        rows = arena.services.store.trades(ARENA)
    canceled = {r.client_order_id: r.reason for r in rows if r.status == "canceled"}
    assert canceled, "the sample replaces a protective order within 8 cycles"
    app, reader = build(settings)
    try:
        with live_server(app) as base, httpx.Client(base_url=base, timeout=10) as client:
            page = client.get("/api/trades", params={"arena": ARENA, "status": "canceled"})
            assert page.status_code == 200, page.text
            served = {r["client_order_id"]: r for r in page.json()["items"]}
            overview = client.get("/api/overview", params={"arena": ARENA}).json()
        # The live stream carries the rewritten row in the cycle that canceled it.
        row = next(r for r in rows if r.status == "canceled" and r.cycle < (r.booked_cycle or 0))
        assert row.booked_cycle is not None
        streamed = reader.trades_between(ARENA, row.booked_cycle - 1, row.booked_cycle)
        assert {r["client_order_id"]: r["status"] for r in streamed}[row.client_order_id] == (
            "canceled"
        )
    finally:
        reader.close()
    assert {c: r["reason"] for c, r in served.items()} == canceled
    shown = {r["client_order_id"]: r["status"] for r in overview["trades"]["items"]}
    assert all(shown[c] == "canceled" for c in canceled if c in shown)
    assert not any(s == "pending" for c, s in shown.items() if c in canceled)
