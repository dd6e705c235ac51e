"""The risk gate refuses what must not reach the broker, with a reason."""

from decimal import Decimal

from mytrader.domain.book import Book, Position
from mytrader.domain.risk import Leg, check_leg, decision_leg, exit_legs
from tests.helpers import decision, make_limits

D = Decimal
DAY = "2024-01-02"


def book_with(cash: str, **positions: tuple[int, str]) -> Book:
    book = Book.open("grok", D(cash))
    for sym, (qty, basis) in positions.items():
        book.positions[sym] = Position(qty=qty, cost_basis=D(basis))
    return book


def gate(leg, book, prices, open_=True, tradable=True, **settings):
    s = make_limits(**settings)
    return check_leg(leg, book, prices, s, market_open=open_, tradable=tradable, day=DAY)


def test_buy_beyond_cash_is_refused_counting_limit_buffer_and_fee():
    s = make_limits(buy_limit_buffer_pct=D("3"), max_position_pct=D("0"))
    assert s.buy_limit(D("100")) == D("103.00")
    book = book_with("1031")
    # 10 * 103.00 + 1 = 1031: exactly affordable
    assert gate(Leg("A", "buy", 10, ""), book, {"A": D("100")}, max_position_pct=D("0")).approved
    refused = gate(Leg("A", "buy", 11, ""), book, {"A": D("100")}, max_position_pct=D("0"))
    assert not refused.approved and "cash" in refused.reason


def test_sell_beyond_position_is_refused():
    book = book_with("0", A=(5, "500"))
    assert gate(Leg("A", "sell", 5, ""), book, {"A": D("90")}).approved
    refused = gate(Leg("A", "sell", 6, ""), book, {"A": D("90")})
    assert not refused.approved and "holds 5" in refused.reason


def test_untradable_closed_market_and_unpriced_symbols_are_refused():
    book = book_with("1000")
    assert (
        "not tradable" in gate(Leg("A", "buy", 1, ""), book, {"A": D("1")}, tradable=False).reason
    )
    assert "no price" in gate(Leg("ZZZ", "buy", 1, ""), book, {}).reason
    assert gate(Leg("A", "buy", 1, ""), book, {"A": D("1")}, open_=False).reason == "market closed"


def test_position_cap_counts_what_is_held():
    book = book_with("10000", A=(20, "2000"))  # equity 10000 + 20*100 = 12000; cap 25% = 3000
    prices = {"A": D("100")}
    flat = {"max_position_pct": D("25"), "buy_limit_buffer_pct": D("0")}
    assert gate(Leg("A", "buy", 10, ""), book, prices, **flat).approved
    refused = gate(Leg("A", "buy", 11, ""), book, prices, **flat)
    assert not refused.approved and "position cap" in refused.reason


def test_position_cap_holds_at_the_worst_fill_the_limit():
    # The BUY may fill up to its limit (price + 3 %): 29 * 103 = 2987 fits the 3000 cap,
    # 30 * 103 = 3090 would not, though 30 * 100 = 3000 does at the last price.
    book = book_with("10000", A=(20, "2000"))
    prices = {"A": D("100")}
    limits = {"max_position_pct": D("25"), "buy_limit_buffer_pct": D("3")}
    assert gate(Leg("A", "buy", 9, ""), book, prices, **limits).approved
    refused = gate(Leg("A", "buy", 10, ""), book, prices, **limits)
    assert not refused.approved and "position cap" in refused.reason


def test_sell_whose_proceeds_do_not_cover_the_fee_is_refused():
    book = book_with("0", A=(1, "1"))  # no cash, one share worth 0.50
    refused = gate(Leg("A", "sell", 1, ""), book, {"A": D("0.50")}, fee_per_trade=D("1"))
    assert not refused.approved and "fee" in refused.reason
    assert gate(Leg("A", "sell", 1, ""), book, {"A": D("2")}, fee_per_trade=D("1")).approved
    rich = book_with("5", A=(1, "1"))  # the cash pays the fee
    assert gate(Leg("A", "sell", 1, ""), rich, {"A": D("0.50")}, fee_per_trade=D("1")).approved


def test_open_orders_reserve_cash_and_shares():
    from mytrader.domain.risk import Reserved

    book = book_with("1000", A=(5, "500"))
    reserved = Reserved()
    reserved.add("buy", "B", 9, D("103"), D("1"))  # 928 of the 1000 committed
    reserved.add("sell", "A", 4, None, D("1"))
    s = make_limits(max_position_pct=D("0"))
    common = {"market_open": True, "tradable": True, "day": DAY, "reserved": reserved}
    prices = {"A": D("100"), "B": D("100")}
    buy = check_leg(Leg("B", "buy", 1, ""), book, prices, s, **common)
    assert not buy.approved and "free cash is 72.00" in buy.reason
    sell = check_leg(Leg("A", "sell", 2, ""), book, prices, s, **common)
    assert not sell.approved and "holds 1 free" in sell.reason
    assert check_leg(Leg("A", "sell", 1, ""), book, prices, s, **common).approved


def test_daily_loss_limit_blocks_buys_not_sells():
    book = book_with("9000", A=(10, "1000"))
    book.last_equity = D("11000")  # now 9000 + 10*100 = 10000: -9.1 %
    prices = {"A": D("100")}
    refused = gate(Leg("A", "buy", 1, ""), book, prices, daily_loss_limit_pct=D("5"))
    assert not refused.approved and "daily loss limit" in refused.reason
    assert gate(Leg("A", "sell", 1, ""), book, prices, daily_loss_limit_pct=D("5")).approved


def test_daily_loss_limit_counts_from_the_start_of_the_day():
    book = book_with("9000", A=(10, "1000"))  # equity now 10000
    prices = {"A": D("100")}
    # Earlier cycles today: the day opened at 10600 (-5.7 % now), the last mark was 10100.
    book.day, book.day_start_equity, book.last_equity = DAY, D("10600"), D("10100")
    refused = gate(Leg("A", "buy", 1, ""), book, prices, daily_loss_limit_pct=D("5"))
    assert not refused.approved and "10070.00" in refused.reason  # 10600 * 0.95
    # A new day starts from the last mark: -1 % since 10100 is within the limit.
    book.day = "2024-01-01"
    assert gate(Leg("A", "buy", 1, ""), book, prices, daily_loss_limit_pct=D("5")).approved


def test_mark_keeps_the_opening_equity_of_the_day():
    book = book_with("1000")
    book.mark({}, day="2024-01-01")
    assert (book.day, book.day_start_equity) == ("2024-01-01", D("1000"))
    book.cash = D("900")
    book.mark({}, day="2024-01-02")  # the 2nd opens at the 1st's last mark
    book.cash = D("800")
    book.mark({}, day="2024-01-02")
    assert (book.day_start_equity, book.last_equity) == (D("1000"), D("800"))
    assert book.opening_equity("2024-01-02") == D("1000")
    assert book.opening_equity("2024-01-03") == D("800")


def test_stop_loss_and_take_profit_exits():
    book = book_with("0", A=(10, "1000"), B=(5, "500"), C=(1, "100"))
    s = make_limits(stop_loss_pct=D("10"), take_profit_pct=D("25"))
    legs = exit_legs(book, {"A": D("89.99"), "B": D("125"), "C": D("95")}, s)
    assert [(leg.symbol, leg.qty, leg.reason.split(":")[0]) for leg in legs] == [
        ("A", 10, "stop-loss"),
        ("B", 5, "take-profit"),
    ]
    off = make_limits(stop_loss_pct=D("0"), take_profit_pct=D("0"))
    assert exit_legs(book, {"A": D("1"), "B": D("1000")}, off) == []


def test_decision_leg():
    assert decision_leg(decision("HOLD")) is None
    assert decision_leg(decision("SELL", "A", 3)) == Leg("A", "sell", 3, "decision")


def test_exit_trigger_is_the_cent_rounded_level_of_the_protective_orders() -> None:
    """Where the two rules of old disagreed: cost 10.005, stop 10% -> the percent rule
    fired only at <= 9.0045, the broker's stop (rounded to the cent) at <= 9.00. One rule
    now, the cent level, for the vote's exits, the gate's and the protective orders."""
    limits = make_limits(stop_loss_pct=D("10"), take_profit_pct=D("25"))
    book = Book.open("grok", D("1000"))
    book.positions["A"] = Position(qty=2, cost_basis=D("20.01"))  # avg cost 10.005
    assert limits.protection.levels(D("10.005")) == (D("12.51"), D("9.00"))
    assert exit_legs(book, {"A": D("9.0045")}, limits) == []  # above the stop of 9.00
    legs = exit_legs(book, {"A": D("9.00")}, limits)
    assert [(leg.symbol, leg.purpose) for leg in legs] == [("A", "stop_loss")]
    # take-profit: 10.005 * 1.25 = 12.50625, the order's limit is 12.51
    assert exit_legs(book, {"A": D("12.5063")}, limits) == []
    assert [leg.purpose for leg in exit_legs(book, {"A": D("12.51")}, limits)] == ["take_profit"]
