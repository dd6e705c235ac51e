"""The account's rules, one scenario on both brokers: the simulated exchange (which applies
mytrader/domain/account_rules.py) and the local Alpaca server (which encodes them on its
own) through the real alpaca-py refuse the same orders with the same words; and the
server's wire behaviour (403 body, cancel 204 -> pending_cancel -> canceled, an OCO leg's
cancel cancels the whole OCO) as alpaca-py sees it."""

from __future__ import annotations

from decimal import Decimal

import pytest
from alpaca.common.exceptions import APIError
from alpaca.trading.client import TradingClient
from alpaca.trading.enums import OrderClass, OrderSide, TimeInForce
from alpaca.trading.requests import (
    GetOrderByIdRequest,
    LimitOrderRequest,
    MarketOrderRequest,
    StopLossRequest,
    TakeProfitRequest,
)

from mytrader.domain.models import OrderRequest
from tests.helpers import order_request
from tests.integration import test_broker_contract as contract
from tests.integration.test_broker_contract import START, Market
from tests.servers.alpaca_server import AlpacaServer

market = contract.market  # the fixture: the simulated exchange, and alpaca-py + local server


def req(market: Market, cid: str, side: str, qty: int, **kw: object) -> OrderRequest:
    return order_request(cid, side, qty, market.now, **kw)


def protective(market: Market, cid: str, qty: int) -> OrderRequest:
    return req(
        market,
        cid,
        "sell",
        qty,
        type="limit",
        order_class="oco",
        limit_price=Decimal("900"),
        stop_price=Decimal("10"),
        time_in_force="gtc",
    )


def test_both_brokers_refuse_the_same_orders_in_the_same_words(market: Market) -> None:
    broker = market.broker
    prefix = f"{market.kind} 403: "
    assert broker.submit_order(req(market, "arena-1-grok-d-AAPL-b", "buy", 10)).is_open
    market.advance()
    assert broker.submit_order(protective(market, "arena-2-grok-p-AAPL-s", 8)).is_open

    washed = broker.submit_order(req(market, "arena-2-openai-d-AAPL-b", "buy", 1))
    assert (washed.status, washed.reason) == (
        "rejected",
        prefix + "potential wash trade detected. use complex orders",
    )
    beyond = broker.submit_order(req(market, "arena-2-deepseek-d-AAPL-s", "sell", 5))
    assert (beyond.status, beyond.reason) == (
        "rejected",
        prefix + "insufficient qty available for order (requested: 5, available: 2)",
    )
    assert broker.submit_order(req(market, "arena-2-deepseek-d-AAPL-s2", "sell", 2)).is_open

    # A protective order canceled is canceled whole; the BUY still waits for the SELL of 2.
    gone = broker.cancel_order("arena-2-grok-p-AAPL-s", market.now)
    assert gone is not None and gone.status == "canceled"
    still = broker.submit_order(req(market, "arena-2-openai-d-AAPL-b2", "buy", 1))
    assert still.status == "rejected" and "wash trade" in still.reason
    market.advance()  # the sell of 2 filled at the open: nothing of the other side is open
    assert broker.submit_order(req(market, "arena-3-openai-d-AAPL-b", "buy", 1)).is_open


def test_the_server_speaks_alpacas_wire_for_refusals_and_cancels() -> None:
    with AlpacaServer(start=START, cash="100000", cancel_delay_requests=2) as srv:
        tc = TradingClient("k", "s", paper=True, url_override=srv.base_url)
        tc.submit_order(
            MarketOrderRequest(symbol="AAPL", qty=10, side=OrderSide.BUY, time_in_force="day")
        )
        srv.advance()
        oco = tc.submit_order(
            LimitOrderRequest(
                symbol="AAPL",
                qty=10,
                side=OrderSide.SELL,
                time_in_force=TimeInForce.GTC,
                order_class=OrderClass.OCO,
                take_profit=TakeProfitRequest(limit_price=900),
                stop_loss=StopLossRequest(stop_price=10),
            )
        )
        with pytest.raises(APIError) as refused:
            tc.submit_order(
                MarketOrderRequest(symbol="AAPL", qty=1, side=OrderSide.BUY, time_in_force="day")
            )
        assert refused.value.status_code == 403
        assert refused.value.code == 40310000
        assert "potential wash trade detected. use complex orders" in str(refused.value)

        leg = oco.legs[0]  # type: ignore[union-attr,index]
        assert tc.cancel_order_by_id(leg.id) is None  # 204, on the stop leg
        nested = GetOrderByIdRequest(nested=True)
        parent = tc.get_order_by_id(oco.id, nested)  # type: ignore[union-attr]
        assert parent.status.value == "pending_cancel"  # type: ignore[union-attr]
        tc.get_clock()  # requests go by: Alpaca finishes the cancel
        again = tc.get_order_by_id(oco.id, nested)  # type: ignore[union-attr]
        assert again.status.value == "canceled"  # type: ignore[union-attr]
        assert {leg.status.value for leg in again.legs or []} == {"canceled"}  # type: ignore[union-attr]
        buy = tc.submit_order(
            MarketOrderRequest(symbol="AAPL", qty=1, side=OrderSide.BUY, time_in_force="day")
        )
        assert buy.status.value == "new"  # type: ignore[union-attr]
