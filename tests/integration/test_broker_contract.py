"""One contract, two brokers: the simulated exchange called directly, and the AlpacaBroker
(the real alpaca-py clients over HTTP) against the local Alpaca server backed by the same
bars. Every scenario must give the same results on both.

Time moves the way each broker moves it: the simulated exchange reads `as_of` (a day of
its calendar); the Alpaca server's clock steps one session per `advance()`, and the
AlpacaBroker's `as_of` is that clock's timestamp on the same day.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest

from mytrader.adapters.alpaca.broker import AlpacaBroker, AlpacaConfig
from mytrader.adapters.sim.exchange import SimulatedExchange
from mytrader.domain.models import OrderRequest, OrderResult
from mytrader.domain.order_ids import account_of
from mytrader.ports.broker import Broker, DuplicateOrderError
from tests.servers.alpaca_server import AlpacaServer

START = "2024-06-03"


@dataclass
class Market:
    """A broker and its clock: `now` is its as_of, `advance()` steps one session."""

    broker: Broker
    kind: str
    server: AlpacaServer | None = None
    now: str = ""

    def advance(self) -> str:
        if self.server is not None:
            self.server.advance()
            self.now = self.broker.next_session(self.now) or ""
        else:
            self.now = self.broker.next_session(self.now) or ""
        return self.now

    @property
    def day(self) -> str:
        return self.now[:10]


@pytest.fixture(params=["sim", "alpaca"])
def market(request: pytest.FixtureRequest) -> Iterator[Market]:
    if request.param == "sim":
        sim = SimulatedExchange(start=START)
        yield Market(sim, "sim", now=sim.next_session(None) or "")
        return
    with AlpacaServer(start=START, cash="1000000") as srv:
        broker = AlpacaBroker(
            AlpacaConfig.of("k", "s", base_url=srv.base_url, data_url=srv.base_url)
        )
        yield Market(broker, "alpaca", srv, now=broker.next_session(None) or "")


def order(m: Market, cid: str, side: str, qty: int, **kw: Any) -> OrderRequest:
    return OrderRequest(
        client_order_id=cid,
        account=account_of(cid),
        symbol=kw.pop("symbol", "AAPL"),
        side=side,  # type: ignore[arg-type]
        qty=qty,
        as_of=m.now,
        **kw,
    )


def outcome(r: OrderResult | None) -> tuple[Any, ...]:
    """What both brokers must agree on (ids and timestamps' formats differ)."""
    assert r is not None
    return (
        r.client_order_id,
        r.account,
        r.symbol,
        r.side,
        r.qty,
        r.status,
        r.type,
        r.order_class,
        r.filled_qty,
        r.filled_avg_price,
        (r.filled_at or "")[:10],
    )


# Expected outcomes, computed from the bundled sample's bars of 2024-06-04..07 (AAPL
# opened 2024-06-04 at its open; see the assertions' prices).


def test_market_order_is_pending_then_fills_at_the_next_open(market: Market) -> None:
    placed = market.broker.submit_order(order(market, "a-1-grok-d-AAPL-b", "buy", 5))
    assert placed.status == "pending" and placed.filled_qty == 0
    assert outcome(market.broker.get_order(placed.client_order_id, market.now)) == outcome(placed)
    day = market.advance()
    got = market.broker.get_order(placed.client_order_id, market.now)
    sim = SimulatedExchange(start=START)
    bar = sim.bars(["AAPL"], day[:10], 1)["AAPL"][-1]
    assert got is not None and got.status == "filled" and got.filled_qty == 5
    assert got.filled_avg_price == bar.open and (got.filled_at or "")[:10] == bar.date


def test_day_limit_not_reached_expires(market: Market) -> None:
    placed = market.broker.submit_order(
        order(market, "a-1-grok-d-AAPL-b", "buy", 5, type="limit", limit_price=Decimal("1.00"))
    )
    assert placed.status == "pending"
    market.advance()
    got = market.broker.get_order(placed.client_order_id, market.now)
    assert got is not None and got.status == "expired" and got.filled_qty == 0


def oco_story(market: Market) -> list[tuple[Any, ...]]:
    """Buy, then protect with an OCO: the bar-by-bar outcomes until it fills."""
    buy = market.broker.submit_order(order(market, "a-1-grok-d-AAPL-b", "buy", 4))
    market.advance()
    bought = market.broker.get_order(buy.client_order_id, market.now)
    assert bought is not None and bought.status == "filled"
    price = bought.filled_avg_price
    assert price is not None
    oco = market.broker.submit_order(
        order(
            market,
            "a-2-grok-p-AAPL-s",
            "sell",
            4,
            type="limit",
            order_class="oco",
            limit_price=(price * Decimal("1.03")).quantize(Decimal("0.01")),
            stop_price=(price * Decimal("0.98")).quantize(Decimal("0.01")),
            time_in_force="gtc",
            purpose="protect",
        )
    )
    story = [outcome(bought), outcome(oco)]
    for _ in range(12):
        market.advance()
        story.append(outcome(market.broker.get_order(oco.client_order_id, market.now)))
    return story


def test_gtc_oco_waits_then_fills_once(market: Market) -> None:
    story = oco_story(market)
    statuses = [row[5] for row in story[2:]]
    assert "filled" in statuses
    first = statuses.index("filled")
    assert set(statuses[:first]) <= {"pending"} and set(statuses[first:]) == {"filled"}
    assert story[-1][8] == 4 and story[-1][7] == "oco"


def test_both_brokers_tell_the_same_story() -> None:
    """The same orders over the same bars: identical outcomes, bar by bar."""
    sim = SimulatedExchange(start=START)
    sim_story = oco_story(Market(sim, "sim", now=sim.next_session(None) or ""))
    with AlpacaServer(start=START, cash="1000000") as srv:
        broker = AlpacaBroker(
            AlpacaConfig.of("k", "s", base_url=srv.base_url, data_url=srv.base_url)
        )
        alpaca_story = oco_story(Market(broker, "alpaca", srv, now=broker.next_session(None) or ""))
    assert alpaca_story == sim_story


def test_cancel_stops_later_fills(market: Market) -> None:
    market.broker.submit_order(order(market, "a-1-grok-d-AAPL-b", "buy", 2))
    market.advance()
    stop = market.broker.submit_order(
        order(
            market,
            "a-2-grok-p-AAPL-s",
            "sell",
            2,
            type="stop",
            stop_price=Decimal("1.00"),
            time_in_force="gtc",
            purpose="protect",
        )
    )
    assert stop.status == "pending"
    canceled = market.broker.cancel_order(stop.client_order_id, market.now)
    assert canceled is not None and canceled.status == "canceled"
    market.advance()
    got = market.broker.get_order(stop.client_order_id, market.now)
    assert got is not None and got.status == "canceled" and got.filled_qty == 0
    assert market.broker.cancel_order("a-9-nobody", market.now) is None


def test_a_used_id_is_a_duplicate(market: Market) -> None:
    request = order(market, "a-1-grok-d-AAPL-b", "buy", 1)
    market.broker.submit_order(request)
    with pytest.raises(DuplicateOrderError):
        market.broker.submit_order(request)
    with pytest.raises(DuplicateOrderError):
        market.broker.submit_order(order(market, "a-1-grok-d-AAPL-b", "buy", 7))


def test_find_orders_by_cycle_prefix(market: Market) -> None:
    for cid, sym in (
        ("a-1-grok-d-AAPL-b", "AAPL"),
        ("a-1-openai-d-MSFT-b", "MSFT"),
        ("a-2-grok-d-NVDA-b", "NVDA"),
    ):
        market.broker.submit_order(order(market, cid, "buy", 1, symbol=sym))
    found = market.broker.find_orders("a-1-", market.now)
    assert sorted(o.client_order_id for o in found) == ["a-1-grok-d-AAPL-b", "a-1-openai-d-MSFT-b"]
    assert {o.account for o in found} == {"grok", "openai"}


def test_clock_is_open_on_a_session(market: Market) -> None:
    clock = market.broker.clock(market.now)
    assert clock.is_open and clock.timestamp[:10] == START


def test_unknown_symbol_is_rejected(market: Market) -> None:
    result = market.broker.submit_order(order(market, "a-1-grok-d-QQQQ-b", "buy", 1, symbol="QQQQ"))
    assert result.status == "rejected" and result.reason
