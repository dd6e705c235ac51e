"""The broker account's rules (domain/account_rules.py): Alpaca's refusals, worded as
Alpaca words them."""

from __future__ import annotations

from decimal import Decimal

from mytrader.domain.account_rules import (
    WASH_TRADE_MESSAGE,
    AccountOrder,
    buying_power,
    is_refusal_of,
    refusal,
)


def order(group: str, side: str, qty: int = 10, symbol: str = "AAPL", price: str | None = None):
    return AccountOrder(group, symbol, side, qty, Decimal(price) if price else None)  # type: ignore[arg-type]


def test_a_buy_while_a_sell_of_the_symbol_is_open_is_a_wash_trade() -> None:
    standing = [order("p1", "sell")]
    refused = refusal(standing, order("b1", "buy", 3, price="100"), held=10)
    assert refused is not None and refused.rule == "wash_trade"
    assert (refused.status, refused.code, refused.message) == (403, 40310000, WASH_TRADE_MESSAGE)
    assert refused.text("alpaca") == "alpaca 403: potential wash trade detected. use complex orders"
    assert is_refusal_of(refused.text("sim"), "wash_trade")


def test_a_sell_while_a_buy_is_open_is_a_wash_trade_too() -> None:
    refused = refusal([order("b1", "buy", price="100")], order("s1", "sell", 5), held=10)
    assert refused is not None and refused.rule == "wash_trade"


def test_same_side_other_symbols_and_legs_of_one_complex_order_are_not_opposite() -> None:
    assert refusal([order("p1", "sell")], order("s2", "sell", 0), held=10) is None
    assert refusal([order("p1", "sell", symbol="MSFT")], order("b1", "buy"), held=0) is None
    # A bracket's exit leg is of the entry's complex order: not opposite to it.
    assert refusal([order("br1", "sell")], order("br1", "buy"), held=10) is None


def test_shares_held_by_open_sells() -> None:
    refused = refusal([order("p1", "sell", 8)], order("s1", "sell", 5), held=10)
    assert refused is not None and refused.rule == "qty_available"
    assert refused.message == "insufficient qty available for order (requested: 5, available: 2)"
    assert refusal([order("p1", "sell", 8)], order("s1", "sell", 2), held=10) is None


def test_buying_power_is_reduced_by_open_buys() -> None:
    standing = [order("b1", "buy", 10, "MSFT", "400"), order("p1", "sell", 5, "AAPL")]
    assert buying_power(standing, Decimal("5000")) == Decimal("1000")
    ok = order("b2", "buy", 10, "XOM", "100")
    assert refusal(standing, ok, held=0, cash=Decimal("5000")) is None
    over = order("b3", "buy", 11, "XOM", "100")
    refused = refusal(standing, over, held=0, cash=Decimal("5000"))
    assert refused is not None and refused.message == "insufficient buying power"
    assert refusal(standing, over, held=0, cash=None) is None  # not checked without cash
