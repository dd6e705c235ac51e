"""House models: each persona's rules fire on hand-made markets, answers parse, critiques bite."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage
from pydantic import ValidationError

from mytrader.adapters.llm import HouseModel, house_critique, house_decision, parse_decision
from mytrader.config import PERSONAS
from mytrader.domain.book import Book, Position, TradeOutcome
from mytrader.domain.limits import RiskLimits
from mytrader.domain.models import CritiqueNote, Decision, MarketView, Mover, Movers, SymbolView
from mytrader.prompts import (
    critique_messages,
    critique_payload,
    decision_messages,
    decision_payload,
    repair_message,
)

# A quiet name that no persona trades: mid RSI, flat MACD, no drawdown, no move.
NEUTRAL: dict[str, Any] = {
    "sector": "technology",
    "change_pct": 0.2,
    "volume": 1_000_000,
    "rsi14": 50.0,
    "macd": 0.0,
    "macd_signal": 0.0,
    "macd_hist": -0.01,
    "macd_hist_prev": 0.0,
    "bb_mid": 100.0,
    "sma20": 100.0,
    "sma50": 100.0,
    "volatility_20d_pct": 1.5,
    "high_lookback": 102.0,
    "drawdown_pct": -2.0,
}


def sv(symbol: str, price: str = "100", **overrides: Any) -> SymbolView:
    return SymbolView.model_validate(
        {**NEUTRAL, "symbol": symbol, "price": Decimal(price), **overrides}
    )


# Grok's target: a biotech dumped 9% today, oversold and volatile.
CRASHED_BIOTECH = sv(
    "MRNA", "40", sector="biotech", change_pct=-9.0, rsi14=24.0, volatility_20d_pct=5.0
)
# DeepSeek's target: positive, rising MACD histogram, RSI 60, above SMA20 and BB mid.
MOMENTUM = sv(
    "NVDA", "120", rsi14=60.0, macd_hist=0.8, macd_hist_prev=0.3, sma20=112.0, bb_mid=112.0
)
# OpenAI's target: a pharma 25% below its high, RSI 38, moderate volatility.
VALUE = sv(
    "PFE",
    "30",
    sector="pharma",
    rsi14=38.0,
    drawdown_pct=-25.0,
    high_lookback=40.0,
    volatility_20d_pct=1.8,
)


def market(*views: SymbolView, losers: tuple[str, ...] = ()) -> MarketView:
    by_symbol = {v.symbol: v for v in views}
    movers = Movers(
        losers=[
            Mover(symbol=s, price=by_symbol[s].price, change_pct=by_symbol[s].change_pct, volume=1)
            for s in losers
        ]
    )
    return MarketView(as_of="2024-05-01", movers=movers, symbols=by_symbol)


def book(positions: dict[str, tuple[int, str]] | None = None, **kw: Any) -> Book:
    held = {s: Position(qty=q, cost_basis=Decimal(c)) for s, (q, c) in (positions or {}).items()}
    return Book(
        account="x",
        starting_cash=Decimal("100000"),
        cash=Decimal("100000") - sum((p.cost_basis for p in held.values()), Decimal(0)),
        positions=held,
        **kw,
    )


def payload(view: MarketView, b: Book, critique: str | None = None) -> dict[str, Any]:
    note = CritiqueNote(text=critique, cycle=9, trades_at=5) if critique else None
    return decision_payload(
        agent="x",
        cycle=10,
        view=view,
        book=b,
        critique=note,
        limits=RiskLimits(
            fee_per_trade=Decimal("1"),
            max_position_pct=Decimal("25"),
            buy_limit_buffer_pct=Decimal("0"),
        ),
    )


def ask(persona: str, messages: list[BaseMessage], view: MarketView) -> Decision:
    """The house model's answer, through the same parser a real model's goes through."""
    answer = HouseModel(persona=persona).invoke(messages)
    allowed = set(view.symbols)
    return parse_decision(answer.text, allowed)


def decide(persona: str, view: MarketView, b: Book, critique: str | None = None) -> Decision:
    return ask(persona, decision_messages(payload(view, b, critique), persona), view)


ALL = market(CRASHED_BIOTECH, MOMENTUM, VALUE, sv("KO", "60"), losers=("MRNA",))


# --- each persona's rules -----------------------------------------------------------------


def test_grok_buys_the_crashed_biotech() -> None:
    d = decide("grok", ALL, book())
    assert (d.decision, d.symbol) == ("BUY", "MRNA")
    assert 1 <= d.quantity <= payload(ALL, book())["max_buy_qty"]["MRNA"]
    assert d.confidence >= 60 and "-9.0%" in d.reasoning


def test_grok_takes_the_bounce_and_cuts_a_loser() -> None:
    held = book({"MRNA": (100, "4000")})  # avg cost 40
    bounced = decide("grok", market(sv("MRNA", "44", sector="biotech")), held)  # +10%
    assert (bounced.decision, bounced.symbol, bounced.quantity) == ("SELL", "MRNA", 100)
    assert "bounce" in bounced.reasoning
    sunk = decide("grok", market(sv("MRNA", "34", sector="biotech")), held)  # -15%
    assert (sunk.decision, sunk.symbol, sunk.quantity) == ("SELL", "MRNA", 100)
    assert "cut" in sunk.reasoning


def test_deepseek_buys_rising_macd() -> None:
    d = decide("deepseek", ALL, book())
    assert (d.decision, d.symbol) == ("BUY", "NVDA")
    assert 1 <= d.quantity <= payload(ALL, book())["max_buy_qty"]["NVDA"]


def test_deepseek_needs_every_condition() -> None:
    falling = market(
        sv("NVDA", "120", rsi14=60.0, macd_hist=0.3, macd_hist_prev=0.8, sma20=112.0, bb_mid=112.0)
    )
    below_average = market(
        sv("NVDA", "110", rsi14=60.0, macd_hist=0.8, macd_hist_prev=0.3, sma20=112.0, bb_mid=105.0)
    )
    for view in (falling, below_average):
        assert decide("deepseek", view, book()).decision == "HOLD"


def test_deepseek_sells_an_overbought_holding() -> None:
    hot = market(MOMENTUM.model_copy(update={"rsi14": 76.0}), VALUE)
    d = decide("deepseek", hot, book({"NVDA": (50, "5000")}))
    assert (d.decision, d.symbol, d.quantity) == ("SELL", "NVDA", 50)
    assert "RSI 76" in d.reasoning


def test_openai_buys_deep_drawdown_low_rsi_quality() -> None:
    d = decide("openai", ALL, book())
    assert (d.decision, d.symbol) == ("BUY", "PFE")
    assert 1 <= d.quantity <= payload(ALL, book())["max_buy_qty"]["PFE"]


def test_openai_is_patient() -> None:
    # Nothing cheap: HOLD. A small gain on a holding: keep it. +25%: value realised.
    assert decide("openai", market(MOMENTUM, sv("KO", "60")), book()).decision == "HOLD"
    still_cheap = market(VALUE.model_copy(update={"price": Decimal("31")}))
    assert decide("openai", still_cheap, book({"PFE": (100, "3000")})).decision == "HOLD"
    recovered = market(VALUE.model_copy(update={"price": Decimal("37.5")}))
    d = decide("openai", recovered, book({"PFE": (100, "3000")}))
    assert (d.decision, d.symbol, d.quantity) == ("SELL", "PFE", 100)


def test_personas_disagree_on_the_same_market() -> None:
    picks = {p: decide(p, ALL, book()).symbol for p in PERSONAS}
    assert picks == {"grok": "MRNA", "deepseek": "NVDA", "openai": "PFE"}


def test_no_buy_beyond_what_the_book_affords() -> None:
    broke = Book.open("x", Decimal("30"))  # not one share of anything, fee included
    for persona in PERSONAS:
        assert decide(persona, ALL, broke).decision == "HOLD"


# --- the model as a LangChain chat model --------------------------------------------------


@pytest.mark.parametrize("persona", PERSONAS)
def test_every_answer_parses_and_is_deterministic(persona: str) -> None:
    views = [ALL, market(sv("KO", "60")), market(MOMENTUM.model_copy(update={"rsi14": 76.0}))]
    books = [book(), book({"NVDA": (10, "1000"), "MRNA": (10, "500")})]
    for view in views:
        for b in books:
            messages = decision_messages(payload(view, b), persona)
            first = HouseModel(persona=persona).invoke(messages)
            again = HouseModel(persona=persona).invoke(messages)
            assert first.text == again.text
            parse_decision(first.text, set(view.symbols) | set(b.positions))


def test_repair_prompt_and_missing_facts_get_a_hold() -> None:
    messages = [*decision_messages(payload(ALL, book()), "grok"), AIMessage(content="oops")]
    repaired = ask("grok", [*messages, repair_message("empty answer")], ALL)
    assert repaired.decision == "HOLD"
    assert ask("grok", [HumanMessage(content="hello")], ALL).decision == "HOLD"


def test_usage_tools_and_type() -> None:
    model = HouseModel(persona="openai")
    answer = model.invoke(decision_messages(payload(ALL, book()), "openai"))
    assert isinstance(answer, AIMessage) and answer.usage_metadata is not None
    assert answer.usage_metadata["input_tokens"] > 1000
    assert answer.usage_metadata["output_tokens"] == len(answer.text) // 4
    assert model.bind_tools([]) is model
    assert model._llm_type == "house"
    with pytest.raises(ValidationError):
        HouseModel(persona="Not a name")


def test_a_persona_without_rules_of_its_own_decides_as_the_generalist_with_stances():
    answer = json.loads(
        HouseModel(persona="qwen").invoke(decision_messages(payload(ALL, book()), "grok")).text
    )
    assert answer["decision"] in ("BUY", "SELL", "HOLD")
    shortlist = payload(ALL, book())["shortlist"]
    assert sorted(answer["stances"]) == shortlist
    assert {s["stance"] for s in answer["stances"].values()} <= {"BUY", "SELL", "HOLD"}


# --- self-critique ------------------------------------------------------------------------


def losing_book() -> Book:
    trades = [
        TradeOutcome(
            cycle=c, side="sell", symbol="KO", qty=1, price=Decimal("60"), realized_pnl=Decimal(pnl)
        )
        for c, pnl in ((1, "-40"), (2, "-25"), (3, "10"), (4, "-5"), (5, "-3"))
    ]
    return book(
        realized_pnl=Decimal("-63"), fees=Decimal("10"), trades=10, wins=1, losses=4, recent=trades
    )


def critique_of(b: Book, view: MarketView, persona: str = "grok", cycle: int = 40) -> str:
    data = critique_payload(
        agent=persona, cycle=cycle, view=view, book=b, critique=None, trades_since=5
    )
    return HouseModel(persona=persona).invoke(critique_messages(data, persona)).text


def test_critique_answers_the_four_questions_in_plain_text() -> None:
    text = critique_of(losing_book(), ALL)
    lines = text.splitlines()
    assert [line[:2] for line in lines[:4]] == ["1.", "2.", "3.", "4."]
    assert "win rate 20%" in lines[0] and "Yes" in lines[0]
    assert lines[-1] == "ADJUSTMENT: more_selective"
    assert not text.lstrip().startswith("{")


def test_critique_tags_follow_the_facts() -> None:
    good: dict[str, Any] = dict(
        realized_pnl=Decimal("500"), fees=Decimal("6"), trades=6, wins=3, losses=0
    )
    overbought = market(MOMENTUM.model_copy(update={"rsi14": 78.0}))
    held = {"NVDA": (10, "1100")}
    assert critique_of(book(held, **good), overbought).endswith("ADJUSTMENT: take_profits_sooner")
    sunk = market(MOMENTUM.model_copy(update={"price": Decimal("80")}))
    assert critique_of(book(held, **good), sunk).endswith("ADJUSTMENT: cut_losses_sooner")
    assert critique_of(book(**good), ALL).endswith("ADJUSTMENT: stay_the_course")
    # Same good record, but 6 trades in 6 cycles: trading too much.
    assert critique_of(book(**good), ALL, cycle=6).endswith("ADJUSTMENT: more_selective")


@pytest.mark.parametrize("persona", PERSONAS)
def test_the_critique_changes_later_decisions(persona: str) -> None:
    critique = critique_of(losing_book(), ALL, persona)
    assert critique.endswith("ADJUSTMENT: more_selective")
    before = decide(persona, ALL, book())
    after = decide(persona, ALL, book(), critique=critique)
    assert before.decision == "BUY"
    assert after.decision == "HOLD" or after.quantity < before.quantity
    assert after != before


def test_more_selective_turns_a_weak_setup_into_hold_and_halves_a_strong_one() -> None:
    weak = market(
        CRASHED_BIOTECH.model_copy(
            update={"change_pct": -3.5, "rsi14": 38.0, "volatility_20d_pct": 1.0}
        )
    )
    selective = "...\nADJUSTMENT: more_selective"
    assert decide("grok", weak, book()).decision == "BUY"
    assert decide("grok", weak, book(), critique=selective).decision == "HOLD"
    strong_before = decide("grok", ALL, book())
    strong_after = decide("grok", ALL, book(), critique=selective)
    assert strong_after.symbol == strong_before.symbol
    assert strong_after.quantity == pytest.approx(strong_before.quantity / 2, abs=1)


def test_take_profits_sooner_lowers_the_exit_bar() -> None:
    up_six = market(sv("MRNA", "42.4", sector="biotech"))  # +6%: below grok's usual 8%
    held = book({"MRNA": (100, "4000")})
    assert decide("grok", up_six, held).decision == "HOLD"
    sooner = decide("grok", up_six, held, critique="...\nADJUSTMENT: take_profits_sooner")
    assert (sooner.decision, sooner.symbol) == ("SELL", "MRNA")


def test_cut_losses_sooner_makes_the_patient_investor_sell_a_loser() -> None:
    sunk = market(VALUE.model_copy(update={"price": Decimal("26")}))  # -13% from cost
    held = book({"PFE": (100, "3000")})
    assert decide("openai", sunk, held).decision == "HOLD"
    d = decide("openai", sunk, held, critique="...\nADJUSTMENT: cut_losses_sooner")
    assert (d.decision, d.symbol, d.quantity) == ("SELL", "PFE", 100)


def test_house_functions_work_on_payloads_directly() -> None:
    data = payload(ALL, book())
    assert house_decision("grok", data)["symbol"] == "MRNA"
    assert house_critique({}).endswith("ADJUSTMENT: stay_the_course")
