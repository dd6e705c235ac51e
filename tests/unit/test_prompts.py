"""Prompt facts are computed in code and round-trip through the rendered prompt."""

from __future__ import annotations

import json
import os
import re
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from langchain_core.messages import HumanMessage, SystemMessage

from mytrader.config import PERSONAS
from mytrader.domain.book import Book, Position, TradeOutcome
from mytrader.domain.limits import RiskLimits
from mytrader.domain.models import CritiqueNote, MarketView, Mover, Movers, SymbolView
from mytrader.domain.prompt_format import _json_block
from mytrader.domain.risk import max_buy_qty
from mytrader.prompts import (
    CRITIQUE_MARKER,
    critique_messages,
    critique_payload,
    decision_messages,
    decision_payload,
    dump_json,
    extract_payload,
    load_prompt,
    repair_message,
    system_prompt,
)


def symbol(sym: str, price: str, **indicators: Any) -> SymbolView:
    return SymbolView(symbol=sym, price=Decimal(price), change_pct=0.0, volume=1000, **indicators)


def market(*views: SymbolView, gainers: tuple[str, ...] = ()) -> MarketView:
    movers = Movers(
        gainers=[Mover(symbol=s, price=Decimal("1"), change_pct=5.0, volume=9) for s in gainers]
    )
    return MarketView(as_of="2024-05-01", movers=movers, symbols={v.symbol: v for v in views})


def payload_for(book: Book, view: MarketView, pct: str = "25", **kw: Any) -> dict[str, Any]:
    return decision_payload(
        agent="grok",
        cycle=3,
        view=view,
        book=book,
        critique=kw.get("critique"),
        limits=RiskLimits(
            fee_per_trade=Decimal("1"),
            max_position_pct=Decimal(pct),
            buy_limit_buffer_pct=Decimal("0"),
        ),
    )


# --- max_buy_qty --------------------------------------------------------------------------


def test_max_buy_qty_pays_the_fee_from_cash() -> None:
    # 999 / 99.50 = 10.04: ten shares, and the fee still fits.
    book = Book.open("grok", Decimal("1000"))
    payload = payload_for(book, market(symbol("ABC", "99.50")), pct="100")
    assert payload["max_buy_qty"] == {"ABC": 10}
    exact = max_buy_qty(
        cash=Decimal("1000"),
        price=Decimal("99.90"),
        equity=Decimal("1000"),
        held=0,
        limits=RiskLimits(
            fee_per_trade=Decimal("1"),
            max_position_pct=Decimal("0"),
            buy_limit_buffer_pct=Decimal("0"),
        ),
    )
    assert exact == 10  # 10 * 99.90 + 1 = 1000: exactly affordable
    # At 100 a share, ten would leave nothing for the fee: nine.
    assert payload_for(book, market(symbol("ABC", "100")), pct="100")["max_buy_qty"] == {"ABC": 9}


def test_max_buy_qty_capped_by_position_size_including_what_is_held() -> None:
    # Equity 95,000 cash + 50 x 100 = 100,000; a 10% cap is 10,000, 5,000 already held.
    book = Book(
        account="grok",
        starting_cash=Decimal("100000"),
        cash=Decimal("95000"),
        positions={"ABC": Position(qty=50, cost_basis=Decimal("5000"))},
    )
    view = market(symbol("ABC", "100"), symbol("XYZ", "100"))
    assert payload_for(book, view, pct="10")["max_buy_qty"] == {"ABC": 50, "XYZ": 100}
    # A cap of 0 disables the cap: cash decides (94,999 / 100).
    assert payload_for(book, view, pct="0")["max_buy_qty"] == {"ABC": 949, "XYZ": 949}


def test_max_buy_qty_pays_cash_at_the_marketable_limit_price() -> None:
    # The risk gate checks cash at price x 1.03 (to the cent): 999 / 102.49 = 9.7 -> 9.
    book = Book.open("grok", Decimal("1000"))
    view = market(symbol("ABC", "99.50"))
    payload = decision_payload(
        agent="grok",
        cycle=1,
        view=view,
        book=book,
        critique=None,
        limits=RiskLimits(
            fee_per_trade=Decimal("1"),
            max_position_pct=Decimal("100"),
            buy_limit_buffer_pct=Decimal("3"),
        ),
    )
    assert payload["max_buy_qty"] == {"ABC": 9}


def test_max_buy_qty_is_zero_when_broke_or_over_the_cap() -> None:
    book = Book.open("grok", Decimal("50"))
    assert payload_for(book, market(symbol("ABC", "100")))["max_buy_qty"] == {"ABC": 0}
    full = Book(
        account="grok",
        starting_cash=Decimal("1000"),
        cash=Decimal("100"),
        positions={"ABC": Position(qty=9, cost_basis=Decimal("900"))},
    )
    assert payload_for(full, market(symbol("ABC", "100")))["max_buy_qty"] == {"ABC": 0}


# --- book facts ---------------------------------------------------------------------------


def book_with_positions() -> Book:
    return Book(
        account="grok",
        starting_cash=Decimal("10000"),
        cash=Decimal("7000"),
        positions={
            "ABC": Position(qty=10, cost_basis=Decimal("1000")),  # in the view at 110
            "OLD": Position(qty=20, cost_basis=Decimal("2000")),  # not in the view: at cost
        },
        realized_pnl=Decimal("12.3456"),
        fees=Decimal("3"),
        trades=3,
        wins=1,
        losses=0,
        recent=[
            TradeOutcome(cycle=1, side="buy", symbol="ABC", qty=10, price=Decimal("100")),
            TradeOutcome(
                cycle=2,
                side="sell",
                symbol="XYZ",
                qty=1,
                price=Decimal("50"),
                realized_pnl=Decimal("12.3456"),
            ),
        ],
    )


def test_book_figures_and_positions() -> None:
    payload = payload_for(book_with_positions(), market(symbol("ABC", "110")))
    book = payload["book"]
    assert book["cash"] == "7000.00"
    assert book["equity"] == "10100.00"  # 7000 + 10 x 110 + 2000 at cost
    assert book["return_pct"] == "1.00"
    assert book["realized_pnl"] == "12.35"
    assert book["win_rate"] == 100.0
    assert book["positions"]["ABC"] == {
        "qty": 10,
        "avg_cost": "100.0000",
        "price": "110",
        "market_value": "1100.00",
        "unrealized_pnl": "100.00",
        "unrealized_pct": "10.00",
    }
    assert book["positions"]["OLD"]["unrealized_pnl"] == "0.00"
    assert payload["recent_trades"][1]["realized_pnl"] == "12.35"
    assert payload["fee_per_trade"] == "1.00"


def walk(value: Any) -> list[Any]:
    if isinstance(value, dict):
        return [leaf for v in value.values() for leaf in walk(v)]
    if isinstance(value, list):
        return [leaf for v in value for leaf in walk(v)]
    return [value]


MONEY_KEYS = {"cash", "equity", "avg_cost", "price", "market_value", "unrealized_pnl", "fees"}


def money_values(value: Any) -> list[Any]:
    if isinstance(value, dict):
        own = [v for k, v in value.items() if k in MONEY_KEYS | {"realized_pnl"}]
        return own + [m for v in value.values() for m in money_values(v)]
    if isinstance(value, list):
        return [m for v in value for m in money_values(v)]
    return []


def test_payloads_are_plain_json_with_money_as_strings() -> None:
    book, view = book_with_positions(), market(symbol("ABC", "110", rsi14=71.234))
    for payload in (
        payload_for(book, view),
        critique_payload(
            agent="grok", cycle=3, view=view, book=book, critique=None, trades_since=5
        ),
    ):
        assert not [leaf for leaf in walk(payload) if isinstance(leaf, Decimal)]
        assert json.loads(json.dumps(payload)) == payload
        money = [m for m in money_values(payload) if m is not None]
        assert money and all(isinstance(m, str) for m in money)


def test_market_is_compact_and_rounded() -> None:
    view = market(symbol("ABC", "110.1234", rsi14=55.55555, macd_hist=0.0123456), gainers=("ABC",))
    payload = payload_for(Book.open("grok", Decimal("1000")), view)
    shown = payload["market"]["symbols"]["ABC"]
    assert shown == {
        "sector": "other",
        "price": "110.1234",
        "change_pct": 0.0,
        "volume": 1000,
        "rsi14": 55.56,
        "macd_hist": 0.0123,
    }
    assert payload["market"]["movers"]["gainers"][0]["symbol"] == "ABC"


# --- texts and messages -------------------------------------------------------------------


def test_system_prompt_is_the_common_text_plus_the_persona() -> None:
    texts = {p: system_prompt(p) for p in PERSONAS}
    assert len(set(texts.values())) == len(PERSONAS)
    for persona, text in texts.items():
        assert text.startswith(load_prompt("system").rstrip())
        assert load_prompt(f"persona_{persona}.md").strip() in text
        assert "fee" in text and "JSON" in text
    with pytest.raises(ValueError, match="no prompt file persona_gpt.md"):
        system_prompt("gpt")


def test_a_users_persona_file_is_found_in_personas_dir(tmp_path) -> None:
    (tmp_path / "persona_qwen.md").write_text("## Who you are: Qwen, the quant\n")
    assert system_prompt("qwen", tmp_path).endswith("Qwen, the quant\n")
    # the user's folder comes first, also for a seed persona
    (tmp_path / "persona_grok.md").write_text("## Who you are: my Grok\n")
    assert "my Grok" in system_prompt("grok", tmp_path)
    assert "my Grok" not in system_prompt("grok")


def test_an_edited_persona_file_is_read_again(tmp_path) -> None:
    path = tmp_path / "persona_qwen.md"
    path.write_text("## Who you are: Qwen, the quant\n")
    assert system_prompt("qwen", tmp_path).endswith("the quant\n")
    path.write_text("## Who you are: Qwen, the contrarian\n")
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 1_000_000))
    assert system_prompt("qwen", tmp_path).endswith("the contrarian\n")


def test_the_market_rendered_once_is_the_market_rendered_each_time() -> None:
    view = market(symbol("ABC", "110.5", rsi14=61.25), symbol("XYZ", "7"), gainers=("ABC",))
    book = Book.open("grok", Decimal("1000"))
    first = decision_messages(payload_for(book, view), "grok")[1].text
    again = decision_messages(payload_for(book, view), "grok")[1].text  # the memo's answer
    # The same payload as plain dicts (no memo anywhere) renders to the same text.
    plain = json.loads(json.dumps(payload_for(book, view)))
    assert first == again == decision_messages(plain, "grok")[1].text
    other = market(symbol("ABC", "111.5", rsi14=61.25), symbol("XYZ", "7"), gainers=("ABC",))
    assert '"111.5"' in decision_messages(payload_for(book, other), "grok")[1].text


def test_decision_prompt_carries_the_payload_and_round_trips() -> None:
    note = CritiqueNote(text='watch {braces} and "quotes"\nADJUSTMENT: x', cycle=2, trades_at=5)
    payload = payload_for(book_with_positions(), market(symbol("ABC", "110")), critique=note)
    system, human = decision_messages(payload, "deepseek")
    assert isinstance(system, SystemMessage) and isinstance(human, HumanMessage)
    assert system.content == system_prompt("deepseek")
    assert "```json\n" in human.text and "cycle 3" in human.text
    assert '"decision"' in human.text and "{payload}" not in human.text
    assert extract_payload(human.text) == payload


def test_critique_prompt_has_marker_questions_and_facts() -> None:
    view = market(symbol("ABC", "110"))
    payload = critique_payload(
        agent="grok",
        cycle=3,
        view=view,
        book=book_with_positions(),
        critique=None,
        trades_since=5,
    )
    _, human = critique_messages(payload, "grok")
    text = human.text
    assert CRITIQUE_MARKER in text
    for question in (
        "Am I trading too much?",
        "Am I following the herd?",
        "Did I miss a sell signal?",
        "How do I make more profit?",
    ):
        assert question in text
    assert "5 trades since your last review" in text
    assert "ADJUSTMENT:" in text
    assert extract_payload(text) == payload


def test_decision_prompts_never_carry_the_critique_marker() -> None:
    assert CRITIQUE_MARKER not in load_prompt("decision")
    note = CritiqueNote(text="ok", cycle=1, trades_at=5)
    payload = payload_for(book_with_positions(), market(symbol("ABC", "110")), critique=note)
    for persona in PERSONAS:
        assert not any(CRITIQUE_MARKER in m.text for m in decision_messages(payload, persona))


def test_critique_payload_facts() -> None:
    book = book_with_positions()
    book.positions["BAD"] = Position(qty=10, cost_basis=Decimal("1000"))
    view = market(
        symbol("ABC", "110", rsi14=75.0, macd_hist=-0.1, macd_hist_prev=0.2),
        symbol("BAD", "85"),
        gainers=("ABC",),
    )
    previous = CritiqueNote(text="be patient", cycle=1, trades_at=0)
    payload = critique_payload(
        agent="grok", cycle=3, view=view, book=book, critique=previous, trades_since=5
    )
    assert payload["book"]["net_realized_after_fees"] == "9.35"  # 12.35 realized - 3 fees
    assert payload["positions"]["ABC"]["rsi14"] == 75.0
    assert payload["positions"]["ABC"]["sell_signals"] == [
        "RSI 75.0 above 70 (overbought)",
        "MACD histogram turned negative",
    ]
    assert payload["positions"]["BAD"]["sell_signals"] == ["down -15.00% from cost (big loss)"]
    assert payload["positions"]["OLD"]["sell_signals"] == []
    assert payload["herd"]["recent_buys"] == ["ABC"]
    assert payload["herd"]["recent_buys_in_todays_crowd"] == ["ABC"]
    assert payload["previous_critique"] == "be patient"
    assert payload["trades_since_critique"] == 5


def test_repair_message_shows_the_error_and_has_no_payload() -> None:
    message = repair_message("quantity must be a positive whole number, got {2.5}")
    assert "got {2.5}" in message.text
    assert "only the JSON object" in message.text
    assert extract_payload(message.text) is None


def test_extract_payload_without_or_with_a_broken_block() -> None:
    assert extract_payload("no block here") is None
    assert extract_payload("```json\n{not json\n```") is None
    assert extract_payload("```json\n[1, 2]\n```") is None


def test_load_prompt_is_cached_and_suffix_optional() -> None:
    assert load_prompt("decision") is load_prompt("decision")
    assert load_prompt("decision.md") == load_prompt("decision")


_BLOCK_DEFINITION = re.compile(r"```json[ \t]*\n(.*?)\n```", re.DOTALL)


@settings(max_examples=3000, deadline=None)
@given(st.lists(st.sampled_from(["```json", "```", "\n", " ", "\t", "a", "{}", "x\n```"])))
def test_the_json_block_is_the_fence_as_defined(parts: list[str]) -> None:
    text = "".join(parts)
    match = _BLOCK_DEFINITION.search(text)
    assert _json_block(text) == (match[1] if match else None)


def test_the_payload_layout_is_stable() -> None:
    """The prompt's JSON layout is part of every cached request's key (--models openrouter
    backtests): a change in it turns a free rerun into a paid one, so it is pinned here."""
    payload = {
        "agent": "grok",
        "book": {"cash": "10.00", "positions": {}},
        "recent_trades": [{"side": "buy", "qty": 1}],
        "market": {
            "movers": {"gainers": [{"symbol": "ÄB", "change_pct": 1.5}], "losers": []},
            "symbols": {"AB": {"price": "1.0000", "rsi14": None}},
        },
        "shortlist": ["AB"],
        "empty": {},
        "nested": [[1, 2], []],
    }
    assert dump_json(payload) == (
        '{\n  "agent": "grok",\n  "book": {\n    "cash": "10.00",\n    "positions": {}\n  },\n'
        '  "recent_trades": [\n    {"side": "buy", "qty": 1}\n  ],\n  "market": {\n'
        '    "movers": {\n      "gainers": [\n        {"symbol": "ÄB", "change_pct": 1.5}\n'
        '      ],\n      "losers": []\n    },\n    "symbols": {\n'
        '      "AB": {"price": "1.0000", "rsi14": null}\n    }\n  },\n  "shortlist": ["AB"],\n'
        '  "empty": {},\n  "nested": [\n    [1, 2],\n    []\n  ]\n}'
    )
