"""The state's models are validated once per JSON value (mytrader/graph/typed.py)."""

from __future__ import annotations

from decimal import Decimal

from mytrader.domain.book import Book
from mytrader.graph.typed import fresh, shared, shared_list


def book_json() -> dict[str, object]:
    return Book.open("grok", Decimal("1000")).model_dump(mode="json")


def test_one_value_is_validated_once() -> None:
    data = book_json()
    assert shared(Book, data) is shared(Book, data)
    assert shared(Book, data) == Book.model_validate(data)


def test_an_equal_but_other_value_gets_its_own_model() -> None:
    a, b = book_json(), book_json()
    assert shared(Book, a) == shared(Book, b)
    assert shared(Book, a) is not shared(Book, b)


def test_fresh_is_never_shared() -> None:
    data = book_json()
    mine = fresh(Book, data)
    mine.cash -= 1
    assert shared(Book, data).cash == Decimal("1000")
    assert fresh(Book, data) is not fresh(Book, data)


def test_a_list_is_its_own_of_shared_items() -> None:
    items = [book_json(), book_json()]
    got = shared_list(Book, items)
    assert got == [shared(Book, i) for i in items]
    assert got is not shared_list(Book, items)
    assert all(x is y for x, y in zip(got, shared_list(Book, items), strict=True))
    assert shared_list(Book, None) == []
