"""One order manager per broker account, case by case (issue 14), on the simulated
exchange AND through the real alpaca-py against the local Alpaca server: every book
trades one account, whose rules (wash trade, shares held by open sells) both brokers
enforce. In no case may the broker refuse an order for a reason the arena could know, and
positions are protected again once no BUY of their symbol is open."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mytrader.adapters.alpaca.broker import AlpacaBroker, AlpacaConfig
from mytrader.adapters.sim.exchange import SimulatedExchange
from mytrader.adapters.store import ArenaStore
from mytrader.app.services import open_services
from mytrader.app.storage import open_store
from mytrader.config import ACCOUNTS, Settings
from mytrader.domain.book import Book
from mytrader.domain.models import AgentDecision, OrderRequest, OrderResult, PendingOrder
from mytrader.domain.order_ids import order_id
from mytrader.graph.settle import settle
from mytrader.tools.market_view import build_market_view
from tests.helpers import cycle_state, decision, make_settings, run_executor
from tests.integration import test_broker_contract as contract
from tests.integration.test_broker_contract import START, Market
from tests.servers.alpaca_server import AlpacaServer, Fault

CONFIG: Any = {"configurable": {"thread_id": "arena"}}
WASH = "potential wash trade detected"


market = contract.market  # the fixture: the simulated exchange, and alpaca-py + local server


class Desk:
    """The executor's cycles by hand over one broker: settle, view, executor."""

    def __init__(self, market: Market, settings: Settings, store: ArenaStore) -> None:
        self.market, self.settings = market, settings
        self.services = open_services(settings, broker=market.broker, store=store)
        self.books = {a: Book.open(a, settings.starting_cash) for a in ACCOUNTS}
        self.pending: list[PendingOrder] = []
        self.cycle = 0

    def hold(self, holdings: dict[tuple[str, str], int]) -> None:
        """The books hold these shares, bought at the broker (cycle 0) and booked."""
        broker = self.market.broker
        for (account, symbol), qty in holdings.items():
            cid = order_id("arena", 0, account, "decision", symbol, "buy")
            request = OrderRequest(
                client_order_id=cid,
                account=account,
                symbol=symbol,
                side="buy",
                qty=qty,
                as_of=self.market.now,
            )
            assert broker.submit_order(request).status == "pending"
            self.pending.append(
                PendingOrder(order=OrderResult.of(request, "pending"), cycle=0, as_of="")
            )
        self.market.advance()

    def run(
        self, decisions: dict[str, tuple[str, str, int]] | None = None, refused: int = 0
    ) -> list[OrderResult]:
        """One cycle; `refused`: how many orders the broker may reject (unforeseen ones)."""
        self.cycle += 1
        broker, now, fee = self.market.broker, self.market.now, self.settings.fee_per_trade
        self.pending, _ = settle(broker, self.books, self.pending, now, self.cycle, fee)
        wanted = {
            a: AgentDecision(agent=a, decision=decision(action, symbol, qty, 80))
            for a, (action, symbol, qty) in (decisions or {}).items()
        }
        symbols = {s for b in self.books.values() for s in b.positions} | {"AAPL"}
        view = build_market_view(broker, now, sorted(symbols), 1)
        state = cycle_state(self.cycle, view, self.books, wanted)
        state["pending"] = [p.model_dump(mode="json") for p in self.pending]
        out = run_executor(self.services, state, CONFIG)
        self.pending = [PendingOrder.model_validate(p) for p in out["pending"]]
        orders = [OrderResult.model_validate(o) for o in out["orders"]]
        assert len([o for o in orders if o.status == "rejected"]) == refused, orders
        if self.market.server is not None:
            assert self.market.server.refusals == []
        return orders

    def open_at_broker(self) -> list[OrderResult]:
        broker = self.market.broker
        if isinstance(broker, SimulatedExchange):
            return broker.account_orders_open("arena-", self.market.now)
        assert isinstance(broker, AlpacaBroker)
        return broker.open_orders()

    def protection(self, symbol: str = "AAPL") -> dict[str, int]:
        """Book -> shares its open protective orders of `symbol` cover, at the broker."""
        out: dict[str, int] = {}
        for o in self.open_at_broker():
            if o.symbol == symbol and o.purpose == "protect":
                out[o.account] = out.get(o.account, 0) + o.qty
        return out

    def held_by_books(self, symbol: str = "AAPL") -> dict[str, int]:
        return {a: b.qty(symbol) for a, b in self.books.items() if b.qty(symbol)}


@pytest.fixture
def desk(market: Market, tmp_path: Path) -> Iterator[Desk]:
    settings = make_settings(mytrader_home=tmp_path / "home")
    with open_store(settings) as store:
        yield Desk(market, settings, store)


def by_purpose(orders: list[OrderResult], purpose: str, symbol: str = "AAPL") -> list[OrderResult]:
    return [o for o in orders if o.purpose == purpose and o.symbol == symbol]


@pytest.mark.parametrize(
    "guarded", [("grok",), ("deepseek",), ("grok", "deepseek", "openai")], ids=str
)
def test_a_buy_with_open_protective_sells_own_another_several(
    desk: Desk, guarded: tuple[str, ...]
) -> None:
    desk.hold({(a, "AAPL"): 10 for a in guarded})
    first = desk.run()
    assert {o.account for o in by_purpose(first, "protect")} == set(guarded)
    assert desk.protection() == {a: 10 for a in guarded}

    bought = desk.run({"grok": ("BUY", "AAPL", 3)})
    buy = by_purpose(bought, "decision")
    assert [(o.side, o.status) for o in buy] == [("buy", "pending")]
    assert desk.protection() == {}  # every book's protective sell canceled before it
    assert by_purpose(bought, "protect") == []  # protection waits while the BUY is open

    desk.market.advance()  # the buy fills at the next open; the next cycle protects again
    desk.run()
    assert desk.protection() == desk.held_by_books()
    assert desk.held_by_books()["grok"] == 3 + (10 if "grok" in guarded else 0)


def test_a_sell_while_another_books_buy_is_open_waits(desk: Desk) -> None:
    desk.hold({("grok", "AAPL"): 10})
    desk.run()
    desk.run({"openai": ("BUY", "AAPL", 3)})  # open until the next open
    held = desk.run({"grok": ("SELL", "AAPL", 10)})
    sell = by_purpose(held, "decision")
    assert [(o.side, o.status) for o in sell] == [("sell", "refused")]
    assert sell[0].reason.startswith("held back: a BUY of AAPL is open (openai)")

    desk.market.advance()  # the buy is done: the sell goes
    sold = desk.run({"grok": ("SELL", "AAPL", 10)})
    assert [(o.side, o.status) for o in by_purpose(sold, "decision")] == [("sell", "pending")]


def test_two_books_trading_one_symbol_in_opposite_directions(desk: Desk) -> None:
    desk.hold({("grok", "AAPL"): 10, ("deepseek", "AAPL"): 4})
    desk.run()
    both = desk.run({"grok": ("SELL", "AAPL", 10), "openai": ("BUY", "AAPL", 3)})
    mine = {o.account: o for o in by_purpose(both, "decision")}
    assert (mine["grok"].side, mine["grok"].status) == ("sell", "pending")
    assert mine["openai"].status == "refused"
    assert mine["openai"].reason.startswith("held back: grok sells AAPL this cycle")
    assert desk.protection() == {"deepseek": 4}  # nothing canceled for the held buy

    desk.market.advance()
    later = desk.run({"openai": ("BUY", "AAPL", 3)})
    assert [o.status for o in by_purpose(later, "decision")] == ["pending"]


def test_a_protective_order_to_place_while_a_buy_is_open_waits(desk: Desk) -> None:
    desk.hold({("grok", "AAPL"): 10})  # bought: not protected yet
    first = desk.run({"openai": ("BUY", "AAPL", 3)})
    assert by_purpose(first, "protect") == []
    assert [o.status for o in by_purpose(first, "decision")] == ["pending"]
    # Replace: grok's position grows while deepseek buys; nothing is placed meanwhile.
    desk.market.advance()
    desk.run()
    assert desk.protection() == {"grok": 10, "openai": 3}
    grown = desk.run({"grok": ("BUY", "AAPL", 2), "deepseek": ("BUY", "AAPL", 1)})
    assert by_purpose(grown, "protect") == [] and desk.protection() == {}
    desk.market.advance()
    desk.run()
    assert desk.protection() == {"grok": 12, "openai": 3, "deepseek": 1}


def test_a_refusal_the_manager_could_not_foresee_restores_the_protection(
    market: Market, tmp_path: Path
) -> None:
    """Alpaca refuses the BUY for a reason of its own (a 403 injected at the server; on the
    sim, buying power the books do not see): the broker's message is recorded and the
    protective orders canceled for the BUY are placed again in the same cycle."""
    settings = make_settings(mytrader_home=tmp_path / "home")
    if market.server is None:  # the sim's account has just enough cash for the seed
        price = market.broker.bars(["AAPL"], market.now, 1)["AAPL"][-1].close
        market.broker = SimulatedExchange(start=START, account_cash=price * 11)
        message = "sim 403: insufficient buying power"
    else:
        message = "alpaca 403: trading is restricted for this account (local test)"
    with open_store(settings) as store:
        desk = Desk(market, settings, store)
        desk.hold({("grok", "AAPL"): 10, ("deepseek", "MSFT"): 1})
        desk.run()
        before = desk.protection()
        assert before == {"grok": 10}
        if market.server is not None:
            market.server.inject(
                Fault(403, "POST", "/v2/orders", message=message.split(": ", 1)[1])
            )
        out = desk.run({"openai": ("BUY", "AAPL", 5)}, refused=1)
        buy = by_purpose(out, "decision")
        assert [(o.status, o.reason) for o in buy] == [("rejected", message)]
        restored = by_purpose(out, "protect")
        assert [(o.account, o.qty, o.status) for o in restored] == [("grok", 10, "pending")]
        assert restored[0].client_order_id == order_id(
            "arena", 2, "grok", "protect", "AAPL", "sell"
        )
        assert desk.protection() == before  # protected again, within the cycle


def test_a_cancel_alpaca_has_not_confirmed_holds_the_buy_back(tmp_path: Path) -> None:
    """A cancel passes through pending_cancel at Alpaca: while it lasts, the protective sell
    still holds its shares and still counts for the wash-trade rule, so the BUY waits."""
    settings = make_settings(mytrader_home=tmp_path / "home")
    with (
        AlpacaServer(start=START, cash="1000000", cancel_delay_requests=10_000) as srv,
        open_store(settings) as store,
    ):
        broker = AlpacaBroker(
            AlpacaConfig.of("k", "s", base_url=srv.base_url, data_url=srv.base_url)
        )
        market = Market(broker, "alpaca", srv, now=broker.next_session(None) or "")
        desk = Desk(market, settings, store)
        desk.hold({("grok", "AAPL"): 10})
        desk.run()
        out = desk.run({"openai": ("BUY", "AAPL", 5)})
        buy = by_purpose(out, "decision")
        assert [o.status for o in buy] == ["refused"]
        assert "not confirmed by the broker yet (pending_cancel)" in buy[0].reason
        guard = next(p.order for p in desk.pending if p.order.purpose == "protect")
        # Still open at the broker: its row stays pending, the reason says the arena asked.
        assert guard.status == "pending" and guard.reason.startswith("canceled: for a BUY")
        for order in srv.orders.values():  # Alpaca finishes the cancel
            order.cancel_at = 0 if order.status == "pending_cancel" else order.cancel_at
        later = desk.run({"openai": ("BUY", "AAPL", 5)})
        assert [o.status for o in by_purpose(later, "decision")] == ["pending"]
