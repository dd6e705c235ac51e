"""Orders are matched by content: a leg's client order id is what the leg is, and a
resumed executor adopts what its cycle placed before a crash, even when the settings
changed in between, and never substitutes one order for another."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from mytrader.adapters.sim.exchange import SimulatedExchange
from mytrader.adapters.store import ArenaStore, StoreLedger
from mytrader.app.services import cached_history, open_services
from mytrader.app.storage import open_store
from mytrader.config import ACCOUNTS, Settings
from mytrader.domain.book import Book, Position
from mytrader.domain.models import AgentDecision, OrderRequest
from mytrader.domain.order_ids import MAX_ID, account_of, cycle_prefix, order_id
from mytrader.ports.broker import Broker
from mytrader.tools.market_view import build_market_view
from tests.helpers import cycle_state, decision, run_executor, seed_position

AS_OF = "2024-06-03"
CONFIG: Any = {"configurable": {"thread_id": "arena"}}


class Crash(BaseException):
    """Stands for a SIGKILL: nothing after it runs, nothing catches it."""


class DiesAfterFirstSubmit:
    def __init__(self, real: Broker) -> None:
        self.real = real

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)

    def submit_order(self, order: OrderRequest) -> Any:
        self.real.submit_order(order)
        raise Crash(order.client_order_id)


def state_for(settings: Settings, broker: Broker) -> dict[str, Any]:
    seed_position(getattr(broker, "real", broker), "grok", "MSFT", 10, AS_OF)
    view = build_market_view(broker, AS_OF, ["AAPL", "MSFT"], 1)
    msft = view.symbols["MSFT"].price
    books = {a: Book.open(a, settings.starting_cash) for a in ACCOUNTS}
    # grok holds MSFT bought at twice today's price: its stop-loss is due.
    books["grok"].positions["MSFT"] = Position(qty=10, cost_basis=msft * 20)
    books["grok"].cash -= msft * 20
    decisions = {
        "grok": AgentDecision(agent="grok", decision=decision("BUY", "AAPL", 5, 80)),
    }
    return cycle_state(7, view, books, decisions)


def services_for(settings: Settings, store: ArenaStore, broker: Broker | None = None) -> Any:
    sim = broker or SimulatedExchange(
        cached_history(None), ledger=StoreLedger(store), warmup_days=60
    )
    return open_services(settings, broker=sim, store=store)


def test_ids_name_the_leg_and_stay_short() -> None:
    cid = order_id("arena", 7, "grok", "stop_loss", "MSFT", "sell")
    assert cid == "arena-7-grok-sl-MSFT-s"
    assert cid.startswith(cycle_prefix("arena", 7)) and account_of(cid) == "grok"
    assert cid != order_id("arena", 7, "grok", "decision", "MSFT", "sell")
    long = order_id("t" + "f" * 30, 1234567, "collaborative", "take_profit", "ABCDEFGHIJ", "sell")
    assert len(long) <= MAX_ID and account_of(long) == "collaborative"


def test_settings_changed_between_crash_and_resume(settings: Settings) -> None:
    with open_store(settings) as store:
        real = services_for(settings, store).broker
        state = state_for(settings, real)
        crashing = services_for(settings, store, DiesAfterFirstSubmit(real))
        with pytest.raises(Crash) as crash:
            run_executor(crashing, state, CONFIG)
        stop_id = str(crash.value)
        assert stop_id == "arena-7-grok-sl-MSFT-s"  # the stop-loss went first

        # The resume runs with the stop-loss disabled: its legs are the BUY alone.
        changed = settings.model_copy(update={"stop_loss_pct": Decimal("0")})
        out = run_executor(services_for(changed, store, real), state, CONFIG)
        at_broker = real.find_orders(cycle_prefix("arena", 7), AS_OF)

    orders = {o["client_order_id"]: o for o in out["orders"]}
    buy = orders["arena-7-grok-d-AAPL-b"]
    assert (buy["side"], buy["symbol"], buy["qty"], buy["status"]) == ("buy", "AAPL", 5, "pending")
    stop = orders[stop_id]  # kept and booked, not lost, not replaced by the BUY
    assert (stop["side"], stop["symbol"], stop["qty"]) == ("sell", "MSFT", 10)
    assert "kept" in stop["reason"]
    assert sorted(o.client_order_id for o in at_broker) == sorted(orders)
    assert {p["order"]["client_order_id"] for p in out["pending"]} == set(orders)


def test_a_stored_order_that_differs_is_never_adopted(settings: Settings) -> None:
    with open_store(settings) as store:
        services = services_for(settings, store)
        state = state_for(settings, services.broker)
        cid = "arena-7-grok-d-AAPL-b"
        services.broker.submit_order(
            OrderRequest(
                client_order_id=cid,
                account="grok",
                symbol="AAPL",
                side="buy",
                qty=7,  # the leg wants 5
                type="limit",
                limit_price=Decimal("500"),
                as_of=AS_OF,
            )
        )
        out = run_executor(services, state, CONFIG)
    orders = {o["client_order_id"]: o for o in out["orders"]}
    refused = orders[f"{cid}!mismatch"]
    assert refused["status"] == "rejected" and "different order" in refused["reason"]
    kept = orders[cid]
    assert kept["qty"] == 7 and kept["status"] == "pending"  # real at the broker: booked
    assert cid in {p["order"]["client_order_id"] for p in out["pending"]}
