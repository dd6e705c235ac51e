"""The order manager's plan for one account (domain/order_plan.py), case by case: what
goes, what is held back and why, what is canceled first, where protection waits."""

from __future__ import annotations

from mytrader.domain.order_plan import Intent, Standing, plan_account


def guard(book: str, symbol: str = "AAPL") -> Standing:
    return Standing(f"p-{book}-{symbol}", book, symbol, "sell", protective=True)


def test_a_buy_cancels_every_books_protective_sell_of_the_symbol_first() -> None:
    buy = Intent("grok", "AAPL", "buy")
    for standing in ([guard("grok")], [guard("deepseek")], [guard("grok"), guard("openai")]):
        plan = plan_account([buy], [*standing, guard("grok", "MSFT")])
        assert plan.held == {}
        assert plan.cancel == tuple(s.order_id for s in standing)  # never MSFT's
        assert plan.wait == frozenset({"AAPL"})  # AAPL's protection waits for the buy


def test_a_sell_while_a_buy_of_the_symbol_is_open_waits() -> None:
    open_buy = Standing("b-openai", "openai", "AAPL", "buy", protective=False)
    sell = Intent("grok", "AAPL", "sell")
    plan = plan_account([sell], [open_buy, guard("deepseek")])
    assert "a BUY of AAPL is open (openai)" in plan.held[sell]
    assert plan.cancel == () and plan.wait == frozenset({"AAPL"})


def test_opposite_directions_in_one_cycle_the_sell_goes_the_buy_waits() -> None:
    sell, buy = Intent("grok", "AAPL", "sell"), Intent("openai", "AAPL", "buy")
    plan = plan_account([buy, sell], [guard("grok"), guard("deepseek")])
    assert set(plan.held) == {buy}
    assert plan.held[buy].startswith("held back: grok sells AAPL this cycle")
    assert plan.cancel == () and plan.wait == frozenset()  # nothing canceled for a held buy


def test_a_buy_while_a_working_sell_is_open_waits() -> None:
    working = Standing("s-grok", "grok", "AAPL", "sell", protective=False)
    buy = Intent("deepseek", "AAPL", "buy")
    plan = plan_account([buy], [working])
    assert "a SELL of AAPL is open (grok)" in plan.held[buy]


def test_protection_waits_while_a_buy_is_open_and_nothing_else_changes() -> None:
    open_buy = Standing("b-openai", "openai", "AAPL", "buy", protective=False)
    plan = plan_account([Intent("grok", "MSFT", "buy")], [open_buy, guard("grok", "MSFT")])
    assert plan.wait == frozenset({"AAPL", "MSFT"}) and plan.held == {}
    assert plan.cancel == ("p-grok-MSFT",)
    # Two books buying one symbol: same side, both go.
    two = plan_account([Intent("grok", "XOM", "buy"), Intent("openai", "XOM", "buy")], [])
    assert two.held == {} and two.wait == frozenset({"XOM"})
