"""settle: an order partly filled over several cycles is booked fill by fill and counted
once, when the broker is done with it."""

from __future__ import annotations

from decimal import Decimal as D

from mytrader.domain.book import Book
from mytrader.domain.models import OrderResult, OrderStatus, PendingOrder
from mytrader.graph.settle import settle


class ScriptedBroker:
    """Answers get_order with what the test says the broker reports now (a unit test of
    settle alone: the real brokers' partial fills are in test_alpaca_cli)."""

    def __init__(self) -> None:
        self.now: dict[str, OrderResult] = {}

    def get_order(self, cid: str, as_of: str | None = None) -> OrderResult | None:
        return self.now.get(cid)


def order(cid: str, side: str, qty: int, status: OrderStatus, filled: int, avg: str | None):
    return OrderResult(
        client_order_id=cid,
        account="grok",
        symbol="AAA",
        side=side,  # type: ignore[arg-type]
        qty=qty,
        status=status,
        filled_qty=filled,
        filled_avg_price=D(avg) if avg else None,
    )


def step(broker, books, pending, cycle):
    still_open, _ = settle(broker, books, pending, f"2024-01-{cycle:02d}", cycle, D("1"))
    return still_open


def test_a_partly_filled_order_is_one_trade_and_one_win_however_many_fills():
    book = Book.open("grok", D("10000"))
    books = {"grok": book}
    broker = ScriptedBroker()
    # A BUY of 10: 4 fill on day 2, the rest on day 3.
    placed = order("b", "buy", 10, "pending", 0, None)
    pending = [PendingOrder(order=placed, cycle=1, as_of="2024-01-01")]
    broker.now["b"] = order("b", "buy", 10, "partially_filled", 4, "100")
    pending = step(broker, books, pending, 2)
    assert book.positions["AAA"].qty == 4 and book.trades == 0 and book.fees == D("1")
    broker.now["b"] = order("b", "buy", 10, "filled", 10, "101")  # avg of all ten
    pending = step(broker, books, pending, 3)
    assert not pending
    assert book.positions["AAA"].qty == 10 and book.trades == 1 and book.fees == D("1")
    assert book.cash == D("10000") - D("1010") - D("1")
    # A SELL of 10 in two parts, one at a loss and one at a gain; in all a gain: one win.
    placed = order("s", "sell", 10, "pending", 0, None)
    pending = [PendingOrder(order=placed, cycle=3, as_of="2024-01-03")]
    broker.now["s"] = order("s", "sell", 10, "partially_filled", 5, "100")
    pending = step(broker, books, pending, 4)
    assert (book.trades, book.wins, book.losses) == (1, 0, 0)
    broker.now["s"] = order("s", "sell", 10, "filled", 10, "103")  # 5 more at 106
    pending = step(broker, books, pending, 5)
    assert not pending and "AAA" not in book.positions
    assert (book.trades, book.wins, book.losses) == (2, 1, 0)
    assert book.realized_pnl == D("1030") - D("1010")


def test_an_order_canceled_after_a_partial_fill_counts_once_when_it_ends():
    book = Book.open("grok", D("10000"))
    books = {"grok": book}
    broker = ScriptedBroker()
    pending = [PendingOrder(order=order("b", "buy", 10, "pending", 0, None), cycle=1, as_of="x")]
    broker.now["b"] = order("b", "buy", 10, "partially_filled", 3, "50")
    pending = step(broker, books, pending, 2)
    assert pending and book.trades == 0
    broker.now["b"] = order("b", "buy", 10, "canceled", 3, "50")  # no new shares
    assert not step(broker, books, pending, 3)
    assert book.trades == 1 and book.positions["AAA"].qty == 3
    # An order that ends with nothing filled is no trade.
    pending = [PendingOrder(order=order("n", "buy", 5, "pending", 0, None), cycle=3, as_of="x")]
    broker.now["n"] = order("n", "buy", 5, "expired", 0, None)
    assert not step(broker, books, pending, 4)
    assert book.trades == 1


def test_an_order_the_arena_canceled_keeps_why_and_what_it_booked():
    from mytrader.graph.settle import ended, ended_orders

    book = Book.open("grok", D("10000"))
    broker = ScriptedBroker()
    placed = order("p", "sell", 10, "partially_filled", 4, "100")
    placed = placed.model_copy(update={"fee": D("1"), "purpose": "protect", "realized_pnl": D("7")})
    entry = PendingOrder(order=placed, cycle=1, as_of="x", booked_qty=4, booked_notional=D("400"))
    at_cancel = order("p", "sell", 10, "canceled", 4, "100")
    gone = ended(entry, at_cancel, "replaced by 2-grok-p-AAA-s")
    assert gone.order.status == "canceled" and ended_orders([entry, gone]) == [gone]
    assert gone.order.reason == "canceled: replaced by 2-grok-p-AAA-s"
    assert (gone.order.fee, gone.order.realized_pnl, gone.order.purpose) == (
        D("1"),
        D("7"),
        "protect",
    )
    # The next settlement: the broker's own reason never overwrites the arena's, and an
    # unchanged order is not rewritten again.
    said = {"reason": "canceled on 2024-01-02", "purpose": "protect"}
    broker.now["p"] = at_cancel.model_copy(update=said)
    still_open, changed = settle(broker, {"grok": book}, [gone], "2024-01-03", 3, D("1"))
    assert still_open == [] and changed == []
    # A fill that beat the cancel stays a fill, and says so.
    filled = order("p", "sell", 10, "filled", 10, "100")
    assert ended(entry, filled, "frees the shares").order.reason == (
        "filled before the cancel (frees the shares)"
    )
