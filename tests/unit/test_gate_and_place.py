"""One gate -> place -> broker error path (`graph.orders.gate_and_place`) for a decision's
leg (the executor) and a protective order (`graph.protective.protect`): a broker that
refuses the order is recorded as a rejected leg with the broker's message and the
request's own terms; a leg the gate stops never reaches the broker."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from mytrader.adapters.sim.exchange import SimulatedExchange
from mytrader.app.context import arena_context
from mytrader.app.services import cached_history
from mytrader.config import ACCOUNTS, Settings, load_settings
from mytrader.domain.book import Book, Position
from mytrader.domain.models import AgentDecision, OrderRequest, OrderResult
from mytrader.domain.order_ids import order_id
from mytrader.graph.nodes.executor import execute
from mytrader.graph.protective import protect
from mytrader.ports.broker import BrokerError
from mytrader.tools.market_view import build_market_view
from tests.helpers import cycle_state, decision

AS_OF = "2024-06-03"
REFUSAL = "insufficient buying power (403)"


class RefusingExchange(SimulatedExchange):
    """The simulated exchange whose every submit fails as a broker error."""

    def __init__(self) -> None:
        super().__init__(cached_history(None), warmup_days=60)
        self.sent: list[OrderRequest] = []

    def submit_order(self, order: OrderRequest) -> OrderResult:
        self.sent.append(order)
        raise BrokerError(REFUSAL)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load_settings(mytrader_home=tmp_path, _env_file=None)


def test_a_decision_refused_by_the_broker_is_recorded_with_its_terms(settings: Settings) -> None:
    broker = RefusingExchange()
    view = build_market_view(broker, AS_OF, ["AAPL"], 1)
    books = {a: Book.open(a, settings.starting_cash) for a in ACCOUNTS}
    decisions = {"grok": AgentDecision(agent="grok", decision=decision("BUY", "AAPL", 5, 80))}
    knobs = arena_context(settings)
    out = execute(broker, knobs, "arena", cycle_state(3, view, books, decisions))

    cid = order_id("arena", 3, "grok", "decision", "AAPL", "buy")
    [request] = broker.sent
    assert request.client_order_id == cid
    [leg] = [OrderResult.model_validate(o) for o in out["orders"] if o["client_order_id"] == cid]
    assert leg == OrderResult.of(request, "rejected", f"broker: {REFUSAL}")
    assert (leg.side, leg.qty, leg.type) == ("buy", 5, "limit")
    assert leg.limit_price == knobs.limits.buy_limit(view.symbols["AAPL"].price)
    assert not out.get("pending")  # never placed: nothing to book later


def test_a_protective_order_refused_by_the_broker_is_recorded_with_its_terms(
    settings: Settings,
) -> None:
    broker = RefusingExchange()
    price = build_market_view(broker, AS_OF, ["AAPL"], 1).symbols["AAPL"].price
    limits = arena_context(settings).limits
    book = Book.open("grok", settings.starting_cash)
    book.positions["AAPL"] = Position(qty=10, cost_basis=price * 10)
    pending, legs = protect(broker, limits, "arena", 3, book, [], None, {"AAPL": price}, AS_OF, {})

    [request] = broker.sent
    assert (request.order_class, request.time_in_force, request.qty) == ("oco", "gtc", 10)
    assert legs == [OrderResult.of(request, "rejected", f"broker: {REFUSAL}")]
    tp, sl = limits.protection.levels(price)
    assert (legs[0].limit_price, legs[0].stop_price) == (tp, sl)
    assert pending == []


def test_a_leg_the_gate_stops_never_reaches_the_broker(settings: Settings) -> None:
    broker = RefusingExchange()
    view = build_market_view(broker, AS_OF, ["AAPL"], 1)
    books = {a: Book.open(a, Decimal("100")) for a in ACCOUNTS}  # cannot pay for 500
    decisions = {"grok": AgentDecision(agent="grok", decision=decision("BUY", "AAPL", 500, 80))}
    out = execute(broker, arena_context(settings), "arena", cycle_state(3, view, books, decisions))

    assert broker.sent == []
    [leg] = [o for o in out["orders"] if o["account"] == "grok"]
    assert leg["status"] == "refused" and leg["qty"] == 500 and leg["type"] == "limit"
