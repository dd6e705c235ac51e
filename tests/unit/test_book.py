"""Book-keeping: a sequence of fills and fees reproduces cash and equity to the cent."""

from decimal import Decimal

import pytest

from mytrader.domain.book import Book, BookError
from mytrader.domain.models import OrderResult

D = Decimal


def fill(side: str, symbol: str, qty: int, price: str, fee: str = "1", n: int = 0) -> OrderResult:
    return OrderResult(
        client_order_id=f"t-{n}",
        account="grok",
        symbol=symbol,
        side=side,  # type: ignore[arg-type]
        qty=qty,
        status="filled",
        filled_qty=qty,
        filled_avg_price=D(price),
        fee=D(fee),
    )


def test_sequence_of_fills_to_the_cent():
    book = Book.open("grok", D("10000"))
    book.apply_fill(fill("buy", "AAPL", 10, "175.0950"), 1)  # 1750.95 + 1
    book.apply_fill(fill("buy", "AAPL", 5, "180.1234"), 2)  # 900.617 + 1
    out = book.apply_fill(fill("sell", "AAPL", 6, "190.0001"), 3)  # 1140.0006 - 1
    # cash: 10000 - 1751.95 - 901.617 + 1139.0006
    assert book.cash == D("8485.4336")
    assert book.fees == D("3")
    assert book.trades == 3
    # basis 1750.95 + 900.617 = 2651.567 for 15 sh; 6 sh take 1060.6268 (rounded to 1/100 cent)
    assert out.realized_pnl == D("1140.0006") - D("1060.6268")
    assert book.positions["AAPL"].qty == 9
    assert book.positions["AAPL"].cost_basis == D("2651.567") - D("1060.6268")
    # equity at 200.00: cash + 9 * 200
    assert book.equity({"AAPL": D("200.00")}) == D("10285.4336")
    assert book.wins == 1 and book.losses == 0


def test_identity_start_equals_cash_plus_basis_minus_pnl_plus_fees():
    book = Book.open("grok", D("5000"))
    seq = [
        ("buy", "A", 7, "33.3333"),
        ("buy", "A", 3, "31.0001"),
        ("sell", "A", 4, "29.9999"),
        ("buy", "B", 2, "100.5"),
        ("sell", "A", 6, "35.1234"),
        ("sell", "B", 2, "99.9999"),
    ]
    for n, (side, sym, qty, price) in enumerate(seq):
        book.apply_fill(fill(side, sym, qty, price, n=n), n)
        basis = sum((p.cost_basis for p in book.positions.values()), D("0"))
        assert book.cash + basis - book.realized_pnl + book.fees == D("5000")
    assert book.positions == {}
    assert book.cash == D("5000") + book.realized_pnl - book.fees
    assert (book.wins, book.losses) == (1, 2)


def test_buy_beyond_cash_and_sell_beyond_position_raise():
    book = Book.open("grok", D("100"))
    with pytest.raises(BookError):
        book.apply_fill(fill("buy", "A", 1, "100.5"), 1)  # the shares alone cost more
    with pytest.raises(BookError):
        book.apply_fill(fill("sell", "A", 1, "10"), 1)
    assert book.cash == D("100") and book.trades == 0


def test_cash_never_goes_negative_the_fee_is_capped():
    # A fill worse than the gate assumed: the fee takes what is left, never more.
    book = Book.open("grok", D("100"))
    booked = book.apply_fill(fill("buy", "A", 1, "99.5"), 1)  # 99.5 + 1 fee > 100
    assert (book.cash, booked.fee, book.fees) == (D("0"), D("0.5"), D("0.5"))
    booked = book.apply_fill(fill("sell", "A", 1, "0.25"), 2)  # proceeds below the fee
    assert (book.cash, booked.fee) == (D("0"), D("0.25"))
    assert book.cash + book.realized_pnl * 0 >= 0
    assert book.cash - book.realized_pnl + book.fees == D("100")


def test_recent_outcomes_are_bounded_and_mark_keeps_the_last_equity():
    book = Book.open("grok", D("100000"))
    for n in range(8):
        book.apply_fill(fill("buy", "A", 1, "10", n=n), n)
    assert [t.cycle for t in book.recent] == [3, 4, 5, 6, 7]
    for n in range(30):
        book.mark({"A": D(10 + n)})
    assert book.last_equity == book.cash + 8 * D(39)


def test_book_roundtrips_through_json_exactly():
    book = Book.open("grok", D("1000"))
    book.apply_fill(fill("buy", "A", 3, "12.3457"), 1)
    again = Book.model_validate(book.model_dump(mode="json"))
    assert again == book
    assert again.cash == D("1000") - D("37.0371") - D("1")
