"""The collaborative vote on stances, on hand-computed cases."""

from decimal import Decimal

from mytrader.domain.book import Book, Position
from mytrader.domain.models import AgentDecision, OrderResult, PendingOrder, Stance
from mytrader.domain.stances import parse_stances, read_stances
from mytrader.graph.nodes.vote import (
    affordable_qty,
    agent_stances,
    committed,
    extend_track,
    tally_votes,
    track_weights,
)
from tests.helpers import decision, make_limits

SETTINGS = make_limits(fee_per_trade=Decimal("1"), max_position_pct=Decimal("25"))
PRICES = {"MRNA": Decimal("100"), "AAPL": Decimal("200")}
BUY, SELL, HOLD = "BUY", "SELL", "HOLD"


def st(action: str, conviction: int = 60) -> Stance:
    return Stance(stance=action, conviction=conviction)  # type: ignore[arg-type]


def stances(**by_agent: dict[str, str]) -> dict[str, dict[str, Stance]]:
    return {a: {s: st(x) for s, x in m.items()} for a, m in by_agent.items()}


def fresh_book(cash: str = "100000") -> Book:
    return Book.open("collaborative", Decimal(cash))


def vote(given, weights=None, mode="majority", book=None):  # type: ignore[no-untyped-def]
    weights = weights or {a: 1 for a in given}
    return tally_votes(
        given, weights, mode, book=book or fresh_book(), prices=PRICES, limits=SETTINGS
    )


def test_majority_two_of_three_buy_sized_on_the_collaborative_book():
    result = vote(
        stances(
            grok={"MRNA": BUY, "AAPL": HOLD},
            deepseek={"MRNA": BUY, "AAPL": SELL},
            openai={"MRNA": HOLD, "AAPL": HOLD},
        )
    )
    d = result.decision
    assert (d.decision, d.symbol) == ("BUY", "MRNA")
    # limit 103.00 (3 % buffer); cap 25 % of 100,000 = 25,000 / 103 -> 242 shares (cash
    # would pay 970); conviction 60 -> 242 * 60 // 100 = 145
    assert affordable_qty(fresh_book(), "MRNA", PRICES, SETTINGS) == 242
    assert d.quantity == 145 and d.confidence == 60
    assert result.agreeing == ["deepseek", "grok"]
    assert result.tally == {"BUY MRNA": 2, "SELL AAPL": 1} and result.total == 3


def test_sizing_scaled_down_to_what_the_collaborative_cash_pays():
    # 1,000 cash and 20,000 of AAPL: the cap (25 % of 21,000 = 5,250 / 103.00 = 50) does not
    # bind, the cash does: (1000 - 1 fee) / 103.00 = 9 shares; conviction 60 -> 5
    book = fresh_book("1000")
    book.positions["AAPL"] = Position(qty=100, cost_basis=Decimal("20000"))
    assert affordable_qty(book, "MRNA", PRICES, SETTINGS) == 9
    result = vote(
        stances(grok={"MRNA": BUY}, deepseek={"MRNA": BUY}, openai={"MRNA": HOLD}), book=book
    )
    assert (result.decision.decision, result.decision.quantity) == ("BUY", 5)
    # broke: nothing the book can act on, a HOLD (never a refused order)
    broke = vote(
        stances(grok={"MRNA": BUY}, deepseek={"MRNA": BUY}, openai={"MRNA": HOLD}),
        book=fresh_book("50"),
    )
    assert broke.decision.decision == "HOLD"


def test_sell_wins_only_on_what_the_book_holds_and_sells_all_of_it():
    book = fresh_book()
    book.positions["AAPL"] = Position(qty=7, cost_basis=Decimal("1400"))
    result = vote(
        stances(
            grok={"AAPL": SELL, "MRNA": BUY},
            deepseek={"AAPL": SELL, "MRNA": BUY},
            openai={"AAPL": HOLD, "MRNA": HOLD},
        ),
        book=book,
    )
    assert (result.decision.decision, result.decision.symbol, result.decision.quantity) == (
        "SELL",
        "AAPL",
        7,
    )
    # the same votes without the position: the SELL has nothing to act on, the BUY wins
    assert (
        vote(
            stances(
                grok={"AAPL": SELL, "MRNA": BUY},
                deepseek={"AAPL": SELL, "MRNA": BUY},
                openai={"AAPL": HOLD, "MRNA": HOLD},
            )
        ).decision.symbol
        == "MRNA"
    )


def test_no_majority_is_hold():
    result = vote(stances(grok={"MRNA": BUY}, deepseek={"MRNA": SELL}, openai={"MRNA": HOLD}))
    assert result.decision.decision == "HOLD" and result.reason == "no majority"


def test_weights_from_trailing_returns_let_a_clearly_better_agent_overrule_a_majority():
    # over the window: grok +6 %, deepseek +1.5 %, openai +1 % (edge 1 point)
    track = {
        "grok": [Decimal("100000"), Decimal("106000")],
        "deepseek": [Decimal("100000"), Decimal("101500")],
        "openai": [Decimal("100000"), Decimal("101000")],
    }
    weights, returns = track_weights(track, Decimal("1"))
    assert returns["grok"] == Decimal("6") and returns["openai"] == Decimal("1")
    # grok clearly beats both: 2**2; deepseek beats openai by 0.5 < 1: 2**0
    assert weights == {"deepseek": 1, "grok": 4, "openai": 1}
    given = stances(grok={"MRNA": BUY}, deepseek={"MRNA": HOLD}, openai={"MRNA": HOLD})
    assert vote(given, weights, "weighted").decision.decision == "BUY"  # 4 of 6 > 3
    assert vote(given, weights, "majority").decision.decision == "HOLD"  # 1 of 3
    two_against = stances(grok={"MRNA": BUY}, deepseek={"MRNA": SELL}, openai={"MRNA": SELL})
    assert vote(two_against, weights, "weighted").decision.symbol == "MRNA"
    assert vote(two_against, weights, "weighted").decision.decision == "BUY"


def test_exact_weighted_tie_is_hold():
    # grok +2 %, deepseek +1.5 %, openai +0.9 %: only grok clearly beats anyone (openai,
    # by 1.1 points), so weights 2, 1, 1 of 4
    track = {
        "grok": [Decimal("1000"), Decimal("1020")],
        "deepseek": [Decimal("1000"), Decimal("1015")],
        "openai": [Decimal("1000"), Decimal("1009")],
    }
    weights, _ = track_weights(track, Decimal("1"))
    assert weights == {"deepseek": 1, "grok": 2, "openai": 1}
    alone = stances(grok={"MRNA": BUY}, deepseek={"MRNA": HOLD}, openai={"MRNA": SELL})
    result = vote(alone, weights, "weighted")
    assert result.tally == {"BUY MRNA": 2, "SELL MRNA": 1} and result.total == 4
    assert result.decision.decision == "HOLD"  # exactly half is no majority
    backed = stances(grok={"MRNA": BUY}, deepseek={"MRNA": BUY}, openai={"MRNA": SELL})
    assert vote(backed, weights, "weighted").decision.decision == "BUY"  # 3 of 4


def test_no_record_yet_means_equal_weights():
    weights, _ = track_weights({"a": [Decimal("5")], "b": []}, Decimal("1"))
    assert weights == {"a": 1, "b": 1}


def test_track_is_bounded_to_the_window():
    track: dict[str, list[str]] = {}
    for eq in range(10):
        track = extend_track(track, {"grok": Decimal(eq)}, window=3)
    assert track == {"grok": ["6", "7", "8", "9"]}


def test_same_inputs_same_result_whatever_the_order():
    a = stances(
        grok={"MRNA": BUY, "AAPL": BUY},
        deepseek={"MRNA": BUY, "AAPL": BUY},
        openai={"MRNA": HOLD, "AAPL": HOLD},
    )
    b = {k: dict(reversed(list(v.items()))) for k, v in reversed(list(a.items()))}
    assert vote(a) == vote(b)
    assert vote(a).decision.symbol == "AAPL"  # equal strength: alphabetical


def test_stances_default_to_the_agents_own_decision():
    shortlist = ["AAPL", "MRNA"]
    buy = decision("BUY", "MRNA", 5, 70)
    # missing, junk, partial: never an error
    assert read_stances(None, buy, shortlist) == {"AAPL": st(HOLD, 0), "MRNA": st(BUY, 70)}
    assert read_stances("junk", buy, shortlist)["MRNA"] == st(BUY, 70)
    given = {"aapl": "sell", "MRNA": {"stance": "SELL", "conviction": 90}, "X": 1}
    # a bare stance counts at conviction 50; the decision overrules a contradicting stance
    assert read_stances(given, buy, shortlist) == {"AAPL": st(SELL, 50), "MRNA": st(BUY, 70)}
    bad = {"AAPL": {"stance": "MAYBE"}, "MRNA": {"stance": "BUY", "conviction": 500}}
    assert read_stances(bad, decision("HOLD"), shortlist) == {
        "AAPL": st(HOLD, 0),
        "MRNA": st(HOLD, 0),
    }
    text = '<think>x</think>{"decision": "HOLD", "stances": {"AAPL": {"stance": "BUY", '
    text += '"conviction": 65}}}'
    assert parse_stances(text, decision("HOLD"), shortlist)["AAPL"] == st(BUY, 65)


def test_agent_without_decision_or_stances_votes_hold_or_its_decision():
    given = {
        "grok": AgentDecision(agent="grok", decision=decision("BUY", "MRNA", 3, 80)).model_dump(
            mode="json"
        )
    }
    out = agent_stances(given, ["grok", "deepseek"], ["MRNA", "AAPL"])
    assert out["grok"]["MRNA"] == st(BUY, 80) and out["grok"]["AAPL"] == st(HOLD, 0)
    assert set(out["deepseek"].values()) == {st(HOLD, 0)}


def test_a_models_quantity_is_bounded_by_the_book_before_it_reaches_the_state():
    from mytrader.graph.nodes.agent import bound_quantity

    book = Book.open("grok", Decimal("1000"))
    book.positions["AAPL"] = Position(qty=3, cost_basis=Decimal("600"))
    # Past the parser's own bound: built without validation, as a belt-and-braces check.
    huge = decision("BUY", "MRNA", 1, 70).model_copy(update={"quantity": 10**308})
    assert bound_quantity(huge, {"MRNA": 9}, book).quantity == 9
    sell = decision("SELL", "AAPL", 1, 60).model_copy(update={"quantity": 5_000_000_000})
    assert bound_quantity(sell, {}, book).quantity == 3
    broke = bound_quantity(decision("BUY", "MRNA", 5, 70), {"MRNA": 0}, book)
    assert broke.decision == "HOLD" and "cannot afford" in broke.reasoning
    fine = decision("BUY", "MRNA", 4, 70)
    assert bound_quantity(fine, {"MRNA": 9}, book) == fine


def test_a_protective_order_does_not_keep_the_account_from_selling_by_vote():
    """A held symbol has its protective OCO sell at the broker for the whole position; the
    executor cancels it before a SELL, so the vote may sell every share."""
    book = fresh_book("1000")
    book.positions["MRNA"] = Position(qty=30, cost_basis=Decimal("2700"))
    protect = OrderResult(
        client_order_id="a-3-collaborative-p-MRNA-s",
        account="collaborative",
        symbol="MRNA",
        side="sell",
        qty=30,
        status="pending",
        type="limit",
        order_class="oco",
        purpose="protect",
        limit_price=Decimal("108"),
        stop_price=Decimal("85.50"),
    )
    other_sell = protect.model_copy(
        update={"client_order_id": "a-4-collaborative-d-MRNA-s", "purpose": "decision", "qty": 5}
    )
    given = stances(
        grok={"MRNA": SELL, "AAPL": HOLD},
        deepseek={"MRNA": SELL, "AAPL": HOLD},
        openai={"MRNA": HOLD, "AAPL": HOLD},
    )

    def sell_with(*orders: OrderResult) -> tuple[str, int]:
        pending = [PendingOrder(order=o, cycle=3, as_of="2024-01-02") for o in orders]
        result = tally_votes(
            given,
            {a: 1 for a in given},
            "majority",
            book=book,
            prices=PRICES,
            limits=SETTINGS,
            reserved=committed(pending, SETTINGS.fee_per_trade),
        )
        return result.decision.decision, result.decision.quantity

    assert sell_with(protect) == ("SELL", 30)
    # An open sell of another kind still holds its shares; a closed one holds none.
    assert sell_with(protect, other_sell) == ("SELL", 25)
    closed = other_sell.model_copy(update={"status": "canceled"})
    assert sell_with(protect, closed) == ("SELL", 30)
