"""The simulated exchange is one broker account with Alpaca's rules (on by default): the
offline arena and every backtest see what the account would refuse."""

from __future__ import annotations

from decimal import Decimal

from mytrader.adapters.sim.exchange import SimulatedExchange
from mytrader.domain.models import OrderRequest
from mytrader.ports.ledger import InMemoryLedger
from tests.helpers import order_request

DAY = "2024-06-03"
WASH = "sim 403: potential wash trade detected. use complex orders"


def req(cid: str, side: str, qty: int, as_of: str, **kw: object) -> OrderRequest:
    return order_request(cid, side, qty, as_of, **kw)


def oco(cid: str, qty: int, as_of: str) -> OrderRequest:
    return req(
        cid,
        "sell",
        qty,
        as_of,
        type="limit",
        order_class="oco",
        limit_price=Decimal("500"),
        stop_price=Decimal("1"),
        time_in_force="gtc",
    )


def holding(sim: SimulatedExchange, qty: int = 10) -> str:
    """The account holds `qty` AAPL (bought the session before DAY); returns DAY."""
    before = sim.history.calendar[sim.history.cal_end(DAY) - 2]
    assert sim.submit_order(req("a-1-grok-d-AAPL-b", "buy", qty, before)).status == "pending"
    return DAY


def test_a_buy_while_a_protective_sell_is_open_is_refused_until_it_is_canceled() -> None:
    sim = SimulatedExchange(start="2024-05-01")
    day = holding(sim)
    assert sim.submit_order(oco("a-2-grok-p-AAPL-s", 10, day)).status == "pending"
    buy = sim.submit_order(req("a-2-openai-d-AAPL-b", "buy", 3, day))
    assert (buy.status, buy.reason) == ("rejected", WASH)
    assert sim.get_order("a-2-openai-d-AAPL-b", day) is None  # refused: never at the exchange
    # The OCO is canceled whole (both legs: it is one order), then the buy goes.
    assert sim.cancel_order("a-2-grok-p-AAPL-s", day).status == "canceled"  # type: ignore[union-attr]
    assert sim.submit_order(req("a-3-openai-d-AAPL-b", "buy", 3, day)).status == "pending"
    # ... and a sell while that buy is open is refused too.
    sell = sim.submit_order(req("a-3-deepseek-d-AAPL-s", "sell", 2, day))
    assert (sell.status, sell.reason) == ("rejected", WASH)


def test_shares_held_by_open_sells_and_buying_power() -> None:
    sim = SimulatedExchange(start="2024-05-01", account_cash=Decimal("100000"))
    day = holding(sim, 10)
    assert sim.submit_order(oco("a-2-grok-p-AAPL-s", 8, day)).status == "pending"
    sell = sim.submit_order(req("a-2-deepseek-d-AAPL-s", "sell", 5, day))
    assert (sell.status, sell.reason) == (
        "rejected",
        "sim 403: insufficient qty available for order (requested: 5, available: 2)",
    )
    assert sim.submit_order(req("a-2-deepseek-d-AAPL-s2", "sell", 2, day)).status == "pending"
    # Cash 100000 less the 10 AAPL bought; a limit buy of MSFT commits its limit.
    big = req("a-2-grok-d-MSFT-b", "buy", 300, day, symbol="MSFT", type="limit")
    big = big.model_copy(update={"limit_price": Decimal("400")})
    assert sim.submit_order(big).reason == "sim 403: insufficient buying power"
    small = big.model_copy(update={"client_order_id": "a-2-grok-d-MSFT-b2", "qty": 200})
    assert sim.submit_order(small).status == "pending"
    again = small.model_copy(update={"client_order_id": "a-2-grok-d-MSFT-b3", "qty": 60})
    assert sim.submit_order(again).reason == "sim 403: insufficient buying power"  # open buys


def test_the_account_survives_a_restart_and_arenas_are_separate_accounts() -> None:
    ledger = InMemoryLedger()
    sim = SimulatedExchange(start="2024-05-01", ledger=ledger)
    day = holding(sim)
    sim.submit_order(oco("a-2-grok-p-AAPL-s", 10, day))
    restarted = SimulatedExchange(start="2024-05-01", ledger=ledger)
    assert [o.client_order_id for o in restarted.account_orders_open("a-", day)] == [
        "a-2-grok-p-AAPL-s"
    ]
    assert restarted.submit_order(req("a-3-grok-d-AAPL-b", "buy", 1, day)).reason == WASH
    # Another arena's orders are another (simulated) account's.
    assert restarted.submit_order(req("b-3-grok-d-AAPL-b", "buy", 1, day)).status == "pending"


def test_rules_off_is_the_old_exchange() -> None:
    sim = SimulatedExchange(start="2024-05-01", account_rules=False)
    day = holding(sim)
    sim.submit_order(oco("a-2-grok-p-AAPL-s", 10, day))
    assert sim.submit_order(req("a-2-openai-d-AAPL-b", "buy", 3, day)).status == "pending"
