"""The collaborative vote, on hand-computed cases."""

from decimal import Decimal

from mytrader.graph.vote import performance_weights, tally_votes
from mytrader.state import Book
from tests.helpers import decision


def test_majority_two_of_three_buy_same_symbol():
    result = tally_votes(
        {
            "grok": decision("BUY", "MRNA", 10, 80),
            "deepseek": decision("BUY", "MRNA", 20, 60),
            "openai": decision("HOLD"),
        },
        {},
        "majority",
    )
    assert result.decision.decision == "BUY"
    assert result.decision.symbol == "MRNA"
    assert result.decision.quantity == 15  # mean of 10 and 20
    assert result.decision.confidence == 70
    assert result.agreeing == ["deepseek", "grok"]
    assert result.tally == {"BUY MRNA": 2.0, "HOLD": 1.0}


def test_majority_same_action_different_symbols_is_hold():
    result = tally_votes(
        {
            "grok": decision("BUY", "MRNA", 10),
            "deepseek": decision("BUY", "AAPL", 10),
            "openai": decision("HOLD"),
        },
        {},
        "majority",
    )
    assert result.decision.decision == "HOLD"
    assert result.reason == "no majority"


def test_three_way_split_is_hold():
    result = tally_votes(
        {
            "grok": decision("BUY", "MRNA", 10),
            "deepseek": decision("SELL", "MRNA", 10),
            "openai": decision("HOLD"),
        },
        {},
        "majority",
    )
    assert result.decision.decision == "HOLD"


def test_majority_of_holds_is_hold():
    result = tally_votes(
        {"grok": decision("HOLD"), "deepseek": decision("HOLD"), "openai": decision("BUY", "X", 1)},
        {},
        "majority",
    )
    assert result.decision.decision == "HOLD"
    assert result.reason == "majority holds"


def test_weighted_single_strong_agent_wins_alone():
    # weights 2.2 vs 0.5 + 0.6: 2.2 > 3.3 / 2
    result = tally_votes(
        {
            "grok": decision("SELL", "TSLA", 4, 90),
            "deepseek": decision("HOLD"),
            "openai": decision("BUY", "TSLA", 3),
        },
        {"grok": 2.2, "deepseek": 0.5, "openai": 0.6},
        "weighted",
    )
    assert result.decision.decision == "SELL"
    assert result.decision.quantity == 4
    assert result.agreeing == ["grok"]


def test_weighted_exact_half_is_a_tie_and_holds():
    result = tally_votes(
        {"grok": decision("BUY", "A", 5), "deepseek": decision("HOLD"), "openai": decision("HOLD")},
        {"grok": 1.0, "deepseek": 0.5, "openai": 0.5},
        "weighted",
    )
    assert result.decision.decision == "HOLD"
    assert result.tally == {"BUY A": 1.0, "HOLD": 1.0}


def test_weighted_quantity_is_weight_averaged():
    result = tally_votes(
        {
            "grok": decision("BUY", "A", 10),
            "deepseek": decision("BUY", "A", 40),
            "openai": decision("HOLD"),
        },
        {"grok": 3.0, "deepseek": 1.0, "openai": 1.0},
        "weighted",
    )
    # (10*3 + 40*1) / 4 = 17.5 -> 17 whole shares
    assert result.decision.quantity == 17


def test_vote_is_independent_of_dict_order():
    a = {
        "grok": decision("BUY", "A", 10),
        "deepseek": decision("BUY", "A", 20),
        "openai": decision("HOLD"),
    }
    b = dict(reversed(list(a.items())))
    assert tally_votes(a, {}, "majority") == tally_votes(b, {}, "majority")


def test_performance_weights_from_equity_with_floor():
    start = Decimal("1000")
    up = Book.open("grok", start).model_copy(update={"cash": Decimal("1200")})
    flat = Book.open("deepseek", start)
    wiped = Book.open("openai", start).model_copy(update={"cash": Decimal("10")})
    weights = performance_weights({"grok": up, "deepseek": flat, "openai": wiped}, {})
    assert weights == {"deepseek": 1.0, "grok": 1.2, "openai": 0.1}
