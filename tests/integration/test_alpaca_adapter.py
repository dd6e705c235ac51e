"""AlpacaBroker over the real alpaca-py clients, against the local Alpaca-compatible server:
reads, the request budget, and order placement that can never be doubled under faults."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from decimal import Decimal

import pytest

from mytrader.adapters.alpaca.broker import (
    AlpacaBroker,
    AlpacaConfig,
    BrokerSetupError,
    BrokerUnavailable,
)
from mytrader.adapters.sim.exchange import SimulatedExchange
from mytrader.app.brokers import open_alpaca
from mytrader.domain.models import OrderRequest
from mytrader.graph.orders import place
from mytrader.ports.broker import DuplicateOrderError
from tests.helpers import make_settings
from tests.servers.alpaca_server import AlpacaServer, Fault

pytestmark = pytest.mark.slow


@pytest.fixture
def server() -> Iterator[AlpacaServer]:
    with AlpacaServer(start="2024-06-03") as srv:
        yield srv


def broker_for(srv: AlpacaServer, **kw: object) -> AlpacaBroker:
    kw.setdefault("timeout", 2.0)
    return AlpacaBroker(
        AlpacaConfig.of("k", "s", base_url=srv.base_url, data_url=srv.base_url, **kw)
    )


def buy(cid: str, qty: int = 3, symbol: str = "AAPL", limit: str | None = None) -> OrderRequest:
    return OrderRequest(
        client_order_id=cid,
        account="grok",
        symbol=symbol,
        side="buy",
        qty=qty,
        limit_price=Decimal(limit) if limit else None,
        type="limit" if limit else "market",
        as_of="2024-06-03",
    )


def test_reads_see_nothing_after_the_clock(server: AlpacaServer) -> None:
    broker = broker_for(server)
    as_of = broker.next_session(None)
    assert as_of == "2024-06-03T15:55:00-04:00"
    assert broker.is_open(as_of)
    bars = broker.bars(["AAPL", "MSFT"], as_of, 30)
    assert len(bars["AAPL"]) == 30 and bars["AAPL"][-1].date == "2024-06-03"
    # The same bars the simulated exchange shows on that day: one market, two adapters.
    sim = SimulatedExchange(server.history)
    assert bars["AAPL"] == sim.bars(["AAPL"], "2024-06-03", 30)["AAPL"]
    universe = broker.universe()
    assert "AAPL" in universe and "OLDCO" not in universe and "NOTRD" not in universe
    assert broker.asset("AAPL") is not None and broker.asset("NOTRD") is None


def test_movers_from_screener_endpoints_match_a_full_scan_and_the_sim(server: AlpacaServer) -> None:
    broker = broker_for(server)
    as_of = broker.next_session(None)
    endpoints = broker.movers(as_of, 5)
    scanned = broker.scan_movers(5)
    sim = SimulatedExchange(server.history).movers("2024-06-03", 5)
    for group in ("gainers", "losers", "most_active"):
        want = [m.symbol for m in getattr(sim, group)]
        assert [m.symbol for m in getattr(endpoints, group)] == want
        assert [m.symbol for m in getattr(scanned, group)] == want
    assert endpoints.gainers[0].price == sim.gainers[0].price


def test_rate_limited_read_waits_for_the_reset(server: AlpacaServer) -> None:
    broker = broker_for(server)
    server.inject(Fault(429, path="/v2/stocks/bars", reset_in=1.0))
    bars = broker.bars(["AAPL"], broker.next_session(None), 5)
    assert len(bars["AAPL"]) == 5
    assert server.count("GET", "/v2/stocks/bars") == 2


def test_every_request_has_a_timeout_and_a_hang_is_retried(server: AlpacaServer) -> None:
    broker = broker_for(server, timeout=0.5)
    assert broker.http.trading._session.request.keywords["timeout"] == 0.5  # type: ignore[attr-defined]
    server.inject(Fault(200, path="/v2/clock", delay=3.0))
    assert broker.next_session(None).startswith("2024-06-03")
    server.inject(Fault(200, path="/v2/clock", delay=3.0, times=10))
    with pytest.raises(BrokerUnavailable):
        broker.next_session(None)


@pytest.mark.parametrize(
    "fault",
    [
        Fault(504, method="POST", path="/v2/orders", after=True),
        Fault(500, method="POST", path="/v2/orders", after=True),
        Fault(200, method="POST", path="/v2/orders", after=True, delay=2.0),  # a hang
        Fault(422, method="POST", path="/v2/orders", after=True),  # duplicate, yet created
        Fault(504, method="POST", path="/v2/orders"),  # lost before Alpaca saw it
        Fault(429, method="POST", path="/v2/orders", reset_in=0.5),
    ],
    ids=["504-after", "500-after", "hang-after", "422-after", "504-before", "429"],
)
def test_a_lost_answer_never_doubles_an_order(server: AlpacaServer, fault: Fault) -> None:
    broker = broker_for(server, timeout=0.5)
    server.inject(fault)
    result, stray = place(broker, buy("a-1-grok-d-AAPL-b"))
    assert result.status == "pending" and result.account == "grok" and stray is None
    assert len(server.orders) == 1
    server.advance()
    booked = broker.get_order("a-1-grok-d-AAPL-b")
    assert booked is not None and booked.status == "filled" and booked.filled_qty == 3
    assert broker.positions() == {"AAPL": 3}


def test_alpaca_py_alone_would_double_the_order(server: AlpacaServer) -> None:
    """Why the adapter turns alpaca-py's retry off: with it, a 504 after the order was
    created is resent blindly (and with a fresh id it would be a second order)."""
    from alpaca.trading.client import TradingClient
    from alpaca.trading.requests import MarketOrderRequest

    tc = TradingClient("k", "s", paper=True, url_override=server.base_url)
    tc._retry_wait = 0
    server.inject(Fault(504, method="POST", path="/v2/orders", after=True))
    tc.submit_order(MarketOrderRequest(symbol="AAPL", qty=1, side="buy", time_in_force="day"))
    assert len(server.orders) == 2  # no client_order_id: Alpaca made up two


def test_same_id_other_order_is_rejected_not_adopted(server: AlpacaServer) -> None:
    broker = broker_for(server)
    broker.submit_order(buy("a-1-grok-d-AAPL-b", qty=3))
    with pytest.raises(DuplicateOrderError):
        broker.submit_order(buy("a-1-grok-d-AAPL-b", qty=5))
    # The executor's placement records the mismatch and keeps the order that is there.
    result, stray = place(broker, buy("a-1-grok-d-AAPL-b", qty=5))
    assert result.status == "rejected" and "different order" in result.reason
    assert stray is not None and stray.qty == 3
    assert len(server.orders) == 1


def test_refusal_is_recorded_with_alpacas_message(server: AlpacaServer) -> None:
    broker = broker_for(server)
    server.inject(Fault(403, method="POST", path="/v2/orders", message="insufficient buying power"))
    result = broker.submit_order(buy("r-1"))
    assert result.status == "rejected" and "insufficient buying power" in result.reason
    # A real refusal too: more than the account can pay.
    result = broker.submit_order(buy("r-2", qty=100000, limit="500"))
    assert result.status == "rejected" and "403" in result.reason
    assert len(server.orders) == 0


def test_cancel_and_open_orders(server: AlpacaServer) -> None:
    broker = broker_for(server)
    broker.submit_order(buy("c-1", limit="1.00"))
    assert [o.client_order_id for o in broker.open_orders()] == ["c-1"]
    canceled = broker.cancel_order("c-1")
    assert canceled is not None and canceled.status == "canceled"
    assert broker.open_orders() == []
    assert broker.cancel_order("nope") is None


def test_live_url_needs_the_opt_in() -> None:
    with pytest.raises(BrokerSetupError, match="ALLOW_LIVE_TRADING"):
        AlpacaBroker(AlpacaConfig.of("k", "s", base_url="https://api.alpaca.markets"))
    # With the opt-in it is built (no request is sent at construction).
    AlpacaBroker(AlpacaConfig.of("k", "s", base_url="https://api.alpaca.markets", allow_live=True))
    AlpacaBroker(AlpacaConfig.of("k", "s", base_url="https://paper-api.alpaca.markets"))


def test_bad_key_and_unreachable_host_are_setup_errors(server: AlpacaServer) -> None:
    url = server.base_url
    bad = make_settings(
        alpaca_api_key="wrong", alpaca_api_secret="s", alpaca_base_url=url, alpaca_data_url=url
    )
    with pytest.raises(BrokerSetupError, match="401"):
        open_alpaca(bad)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}"
    gone = make_settings(
        alpaca_api_key="k",
        alpaca_api_secret="s",
        alpaca_base_url=dead,
        alpaca_data_url=dead,
        alpaca_timeout_s=0.5,
    )
    with pytest.raises(BrokerSetupError, match="unreachable"):
        open_alpaca(gone)


def test_news_up_to_as_of_only(server: AlpacaServer) -> None:
    broker = broker_for(server)
    as_of = broker.next_session(None)
    server.add_news("old", ["AAPL"], "2024-06-03T14:00:00Z")
    server.add_news("later today", ["AAPL"], "2024-06-03T21:00:00Z")  # after 15:55 New York
    server.add_news("other", ["MSFT"], "2024-06-03T14:00:00Z")
    items = broker.news(["AAPL"], as_of, 10)
    assert [i.headline for i in items] == ["old"]


def test_books_with_their_own_accounts(server: AlpacaServer) -> None:
    """Per-account keys: grok's orders go to grok's account, the rest to the main one;
    lookups follow the book named in the id; the reconciliation sums both accounts."""
    from mytrader.adapters.alpaca.accounts import AccountRouter
    from mytrader.graph.account_check import Account

    with AlpacaServer(start="2024-06-03", key="gk", secret="gs") as own:
        grok = AlpacaBroker(
            AlpacaConfig.of("gk", "gs", base_url=own.base_url, data_url=own.base_url)
        )
        router = AccountRouter(broker_for(server), {"grok": grok})
        assert isinstance(router, Account)
        as_of = router.next_session(None)
        router.submit_order(buy("a-1-grok-d-AAPL-b", qty=2))
        other = buy("a-1-openai-d-AAPL-b", qty=3).model_copy(update={"account": "openai"})
        router.submit_order(other)
        assert [o.client_order_id for o in own.orders.values()] == ["a-1-grok-d-AAPL-b"]
        assert [o.client_order_id for o in server.orders.values()] == ["a-1-openai-d-AAPL-b"]
        own.advance()
        server.advance()
        got = router.get_order("a-1-grok-d-AAPL-b", as_of)
        assert got is not None and got.status == "filled"
        assert router.positions() == {"AAPL": 5}
        assert router.account_cash() == own.cash + server.cash
        found = router.find_orders("a-1-", as_of)
        assert {o.client_order_id for o in found} == {"a-1-grok-d-AAPL-b", "a-1-openai-d-AAPL-b"}
