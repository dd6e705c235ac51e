"""Stops at the broker: after a BUY filled, each book's position gets one protective OCO
at the broker; a resumed executor never doubles it; a SELL decision cancels it first; a
fill of the stop at the broker is booked to its book. On the simulated exchange, whose
orders behave like Alpaca's (the contract suite checks that)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from mytrader.adapters.sim.exchange import SimulatedExchange
from mytrader.adapters.store import StoreLedger
from mytrader.app.context import risk_limits
from mytrader.app.services import cached_history, open_services
from mytrader.app.storage import open_store
from mytrader.config import ACCOUNTS, Settings
from mytrader.domain.book import Book, Position
from mytrader.domain.models import AgentDecision, PendingOrder
from mytrader.graph.settle import settle
from mytrader.tools.market_view import build_market_view
from tests.helpers import cycle_state, decision, run_executor, seed_position

AS_OF = "2024-06-03"
CONFIG: Any = {"configurable": {"thread_id": "arena"}}


def state_for(
    sim: SimulatedExchange, settings: Settings, sell: bool = False, symbol: str = "AAPL"
) -> dict[str, Any]:
    seed_position(sim, "grok", symbol, 10, AS_OF)
    view = build_market_view(sim, AS_OF, [symbol], 1)
    price = view.symbols[symbol].price
    books = {a: Book.open(a, settings.starting_cash) for a in ACCOUNTS}
    books["grok"].positions[symbol] = Position(qty=10, cost_basis=price * 10)
    books["grok"].cash -= price * 10
    decisions = {}
    if sell:
        decisions["grok"] = AgentDecision(agent="grok", decision=decision("SELL", "AAPL", 10, 80))
    return cycle_state(3, view, books, decisions)


def test_protect_once_cancel_before_sell_and_book_the_stop(settings: Settings) -> None:
    with open_store(settings) as store:
        sim = SimulatedExchange(cached_history(None), ledger=StoreLedger(store), warmup_days=60)
        services = open_services(settings, broker=sim, store=store)
        state = state_for(sim, settings)
        out = run_executor(services, state, CONFIG)
        guards = [o for o in out["orders"] if o["purpose"] == "protect"]
        assert len(guards) == 1
        guard = guards[0]
        cost = Book.model_validate(state["books"]["grok"]).positions["AAPL"].avg_cost
        tp, sl = risk_limits(settings).protection.levels(cost)
        assert (guard["order_class"], guard["side"], guard["qty"]) == ("oco", "sell", 10)
        assert Decimal(guard["limit_price"]) == tp and Decimal(guard["stop_price"]) == sl
        assert guard["status"] == "pending"

        # The same cycle again (a resume): the order at the broker is adopted, not doubled.
        again = run_executor(services, state, CONFIG)
        assert [o["client_order_id"] for o in again["orders"]] == [guard["client_order_id"]]
        assert len(sim.find_orders("arena-3-", AS_OF)) == 1

        # Next cycle the agent sells: the protective order is canceled first, so the
        # shares are free and the SELL goes out.
        nxt = {**state_for(sim, settings, sell=True), "cycle": 4, "pending": out["pending"]}
        sold = run_executor(services, nxt, CONFIG)
        sells = [o for o in sold["orders"] if o["purpose"] == "decision"]
        assert len(sells) == 1 and sells[0]["status"] == "pending", sold["orders"]
        canceled = sim.get_order(guard["client_order_id"], AS_OF)
        assert canceled is not None and canceled.status == "canceled"


def test_a_stop_filled_at_the_broker_is_booked_to_its_book(settings: Settings) -> None:
    tight = settings.model_copy(
        update={"stop_loss_pct": Decimal("1"), "take_profit_pct": Decimal("50")}
    )
    with open_store(tight) as store:
        sim = SimulatedExchange(cached_history(None), ledger=StoreLedger(store), warmup_days=60)
        services = open_services(tight, broker=sim, store=store)
        state = state_for(sim, tight, symbol="MRNA")  # MRNA fell in June 2024
        out = run_executor(services, state, CONFIG)
        books = {a: Book.model_validate(b) for a, b in state["books"].items()}
        pending = [PendingOrder.model_validate(p) for p in out["pending"]]
        day, cycle = AS_OF, 3
        for _ in range(10):  # a 1% stop is hit within days
            day = sim.next_session(day) or day
            cycle += 1
            pending, _ = settle(sim, books, pending, day, cycle, tight.fee_per_trade)
            if not pending:
                break
        assert pending == []
        grok = books["grok"]
        assert grok.qty("MRNA") == 0 and grok.trades == 1 and grok.fees == tight.fee_per_trade
        assert grok.recent[-1].side == "sell" and grok.realized_pnl < 0  # the stop, not the TP
        assert all(books[a].cash == tight.starting_cash for a in ACCOUNTS if a != "grok")
