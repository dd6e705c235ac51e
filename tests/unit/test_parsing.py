"""parse_decision: digging the decision out of real-model answers, and precise refusals."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mytrader.domain.models import MAX_QUANTITY, Decision
from mytrader.domain.parsing import MAX_ANSWER_CHARS, DecisionParseError, parse_decision

ALLOWED = {"AAPL", "MRNA", "NVDA"}


def parse(text: str) -> Decision:
    return parse_decision(text, ALLOWED)


def refusal(text: str) -> str:
    with pytest.raises(DecisionParseError) as err:
        parse(text)
    return str(err.value)


BUY = (
    '{"decision": "BUY", "symbol": "AAPL", "quantity": 10, "reasoning": "cheap", "confidence": 70}'
)


def test_plain_json() -> None:
    d = parse(BUY)
    assert (d.decision, d.symbol, d.quantity, d.reasoning, d.confidence) == (
        "BUY",
        "AAPL",
        10,
        "cheap",
        70,
    )


def test_markdown_fence_and_prose_around() -> None:
    text = f"Here is my decision:\n```json\n{BUY}\n```\nGood luck to me!"
    assert parse(text).symbol == "AAPL"


def test_think_block_with_braces_and_a_draft_decision_is_ignored() -> None:
    draft = '{"decision": "SELL", "symbol": "NVDA", "quantity": 3, "confidence": 50}'
    text = f"<think>set = {{a, b}}; draft: {draft} ... no, buy.</think>\n{BUY}"
    assert parse(text).decision == "BUY"


def test_thinking_tag_variant() -> None:
    assert parse(f"<thinking>{{hmm}}</thinking>{BUY}").symbol == "AAPL"


def test_stray_closing_think_tag_drops_the_reasoning_before_it() -> None:
    # Some chat templates put the opening tag in the prompt: the answer starts mid-thought.
    draft = '{"decision": "HOLD"}'
    assert parse(f"I considered {draft} but </think>{BUY}").decision == "BUY"


def test_unclosed_leading_think_block_still_yields_the_decision() -> None:
    assert parse(f"<think>RSI is {{low}}, so: {BUY}").decision == "BUY"


def test_braces_and_quotes_inside_reasoning_strings() -> None:
    text = (
        'Answer: {"decision": "buy", "symbol": "MRNA", "quantity": 5, '
        '"reasoning": "RSI {23} is low } and \\"sellers\\" are done {", "confidence": 80} end'
    )
    d = parse(text)
    assert d.symbol == "MRNA"
    assert d.reasoning == 'RSI {23} is low } and "sellers" are done {'


def test_decision_object_nested_in_another_object() -> None:
    assert parse('{"answer": ' + BUY + "}").symbol == "AAPL"


def test_lower_case_action_symbol_and_keys() -> None:
    d = parse('{"Decision": "sell", "symbol": " nvda ", "Quantity": 2, "confidence": 55}')
    assert (d.decision, d.symbol, d.quantity) == ("SELL", "NVDA", 2)


def test_hold_is_normalized() -> None:
    d = parse('{"decision": "Hold", "symbol": "AAPL", "quantity": 7, "reasoning": "wait"}')
    assert (d.decision, d.symbol, d.quantity, d.confidence, d.reasoning) == (
        "HOLD",
        None,
        0,
        0,
        "wait",
    )


def test_missing_reasoning_is_empty() -> None:
    text = '{"decision": "BUY", "symbol": "AAPL", "quantity": 1, "confidence": 60}'
    assert parse(text).reasoning == ""


@pytest.mark.parametrize(("raw", "qty"), [("10", 10), ("10.0", 10), ('"10"', 10), ("3", 3)])
def test_whole_quantities_accepted(raw: str, qty: int) -> None:
    text = f'{{"decision": "BUY", "symbol": "AAPL", "quantity": {raw}, "confidence": 60}}'
    assert parse(text).quantity == qty


@pytest.mark.parametrize("raw", ["2.5", "-1", "0", "true", '"ten"', "null", '"-3"'])
def test_bad_quantities_refused_with_the_value(raw: str) -> None:
    text = f'{{"decision": "BUY", "symbol": "AAPL", "quantity": {raw}, "confidence": 60}}'
    assert refusal(text) == f"quantity must be a positive whole number, got {raw}"


@pytest.mark.parametrize(("raw", "conf"), [("85.6", 86), ('"80"', 80), ('"75%"', 75), ("0", 0)])
def test_confidence_numbers_accepted_and_rounded(raw: str, conf: int) -> None:
    text = f'{{"decision": "BUY", "symbol": "AAPL", "quantity": 1, "confidence": {raw}}}'
    assert parse(text).confidence == conf


@pytest.mark.parametrize("raw", ["150", "-5", '"high"', "true"])
def test_bad_confidence_refused(raw: str) -> None:
    text = f'{{"decision": "BUY", "symbol": "AAPL", "quantity": 1, "confidence": {raw}}}'
    assert refusal(text) == f"confidence must be a number from 0 to 100, got {raw}"


def test_confidence_required_for_trades_not_for_hold() -> None:
    assert "confidence is required for BUY" in refusal(
        '{"decision": "BUY", "symbol": "AAPL", "quantity": 1}'
    )
    assert parse('{"decision": "HOLD"}').confidence == 0


def test_unknown_symbol_refused() -> None:
    text = '{"decision": "BUY", "symbol": "ZZZZ", "quantity": 1, "confidence": 60}'
    assert refusal(text) == "unknown symbol 'ZZZZ': not among the symbols shown"


def test_missing_symbol_refused() -> None:
    text = '{"decision": "SELL", "quantity": 1, "confidence": 60}'
    assert refusal(text) == "symbol is required for BUY/SELL, got null"


@pytest.mark.parametrize("raw", ['"MAYBE"', "1", "null"])
def test_bad_action_refused(raw: str) -> None:
    assert refusal(f'{{"decision": {raw}}}') == f"decision must be BUY, SELL or HOLD, got {raw}"


@pytest.mark.parametrize("text", ["", "   \n", "<think>only thoughts {x}</think>  "])
def test_empty_answer(text: str) -> None:
    assert refusal(text) == "empty answer"


def test_prose_without_json() -> None:
    assert "no JSON object" in refusal("I would buy Apple, 10 shares, feeling good {maybe}.")


def test_json_without_decision_key() -> None:
    assert "no JSON object" in refusal('{"action": "BUY", "symbol": "AAPL"}')


def test_parse_error_is_a_value_error() -> None:
    assert issubclass(DecisionParseError, ValueError)


# --- hostile answers: bounded, ASCII-only, and never anything but DecisionParseError ------


@pytest.mark.parametrize(
    "raw", ["1e308", '"99999999999999999999999"', "5000000000", "1000000001", "9" * 5000]
)
def test_absurd_quantities_are_parse_errors(raw: str) -> None:
    text = f'{{"decision": "BUY", "symbol": "AAPL", "quantity": {raw}, "confidence": 60}}'
    with pytest.raises(DecisionParseError):
        parse(text)


def test_the_hard_cap_itself_is_accepted() -> None:
    text = f'{{"decision": "SELL", "symbol": "AAPL", "quantity": {MAX_QUANTITY}, "confidence": 6}}'
    assert parse(text).quantity == MAX_QUANTITY


def test_max_qty_bounds_the_quantity_and_is_named() -> None:
    text = '{"decision": "BUY", "symbol": "AAPL", "quantity": 51, "confidence": 60}'
    assert parse_decision(text, ALLOWED, max_qty=51).quantity == 51
    with pytest.raises(DecisionParseError, match="more than 50 shares"):
        parse_decision(text, ALLOWED, max_qty=50)


@pytest.mark.parametrize("raw", ['"²"', '"１２"', '"١٢"', '"12²"', '" 1_000 "'])
def test_unicode_and_odd_digits_are_parse_errors(raw: str) -> None:
    text = f'{{"decision": "BUY", "symbol": "AAPL", "quantity": {raw}, "confidence": 60}}'
    assert "quantity must be a positive whole number" in refusal(text)


@pytest.mark.parametrize("raw", ['"９０"', '"٩٠"'])
def test_unicode_digit_confidence_is_a_parse_error(raw: str) -> None:
    text = f'{{"decision": "BUY", "symbol": "AAPL", "quantity": 1, "confidence": {raw}}}'
    assert "confidence must be a number" in refusal(text)


@pytest.mark.parametrize(
    "text",
    [
        None,
        12,
        ["{}"],
        b'{"decision": "HOLD"}',
        "x" * (MAX_ANSWER_CHARS + 1),
        '{"a": ' * 30_000,
        '{"decision": ' + "[" * 50_000,
        "{" * 150_000,
        '{"decision": "BUY", "symbol": "AAPL", "quantity": 1, "confidence": 1e400}',
        '{"decision": "BUY", "symbol": "AAPL", "quantity": 1, "confidence": ' + "9" * 400 + "}",
        '{"decision": "BUY", "symbol": ["AAPL"], "quantity": 1, "confidence": 1}',
        '{"decision": {"x": 1}, "symbol": "AAPL"}',
        "<think>" * 20_000,
    ],
)
def test_hostile_input_raises_only_the_parse_error(text: object) -> None:
    with pytest.raises(DecisionParseError):
        parse_decision(text, ALLOWED)  # type: ignore[arg-type]


_json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(
    action=st.sampled_from(["BUY", "SELL", "HOLD", "buy", "", "Short"]) | _json_values,
    symbol=st.sampled_from(["AAPL", "aapl", "ZZZZ", ""]) | _json_values,
    quantity=_json_values
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.text(alphabet="0123456789²１٢.-e ", max_size=25),
    confidence=_json_values,
    prose=st.text(max_size=40),
)
def test_any_answer_gives_a_decision_or_the_parse_error(
    action: object, symbol: object, quantity: object, confidence: object, prose: str
) -> None:
    obj = {"decision": action, "symbol": symbol, "quantity": quantity, "confidence": confidence}
    text = f"{prose}\n{json.dumps(obj)}"
    try:
        decision = parse_decision(text, ALLOWED)
    except DecisionParseError:
        return
    assert 0 <= decision.quantity <= MAX_QUANTITY
    assert decision.decision == "HOLD" or decision.symbol in ALLOWED
    Decision.model_validate(decision.model_dump(mode="json"))
