"""Turn a model's answer text into a validated Decision, or say precisely why not.

Real models wrap their JSON in think blocks, markdown fences and chatty prose; the
parser digs the decision object out of all that. Every failure raises
DecisionParseError with a short reason meant to be shown back to the model in a repair
turn, so the reason names the field and the offending value.

Choices: "confidence" is required for BUY and SELL (a trade without a stated conviction
is not executed; the repair turn asks for it) and defaults to 0 for HOLD; "reasoning"
defaults to "". Numbers may come as JSON numbers or digit strings; a float counts as a
whole number only when it is integral (10.0). A HOLD's symbol and quantity are ignored.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection
from typing import Any

from mytrader.state.models import Action, Decision

__all__ = ["DecisionParseError", "parse_decision"]

ACTIONS: tuple[Action, ...] = ("BUY", "SELL", "HOLD")

_THINK_BLOCK = re.compile(r"<(think|thinking)>.*?</\1>", re.DOTALL | re.IGNORECASE)
_THINK_CLOSE = re.compile(r"</think(?:ing)?>", re.IGNORECASE)
_THINK_OPEN = re.compile(r"^\s*<think(?:ing)?>", re.IGNORECASE)
_NUMBER = re.compile(r"[+-]?\d+(\.\d+)?")


class DecisionParseError(ValueError):
    """The answer is not a usable decision; the message says why, for the repair turn."""


def parse_decision(text: str, allowed_symbols: Collection[str]) -> Decision:
    """The first JSON object with a "decision" key in `text`, validated."""
    answer = strip_thinking(text or "")
    if not answer.strip():
        raise DecisionParseError("empty answer")
    obj = find_decision_object(answer)
    if obj is None:
        raise DecisionParseError('no JSON object with a "decision" key found in the answer')
    return validate(obj, allowed_symbols)


def strip_thinking(text: str) -> str:
    """Drop reasoning blocks: closed ones, a prefix ended by a stray closing tag (the opening
    tag was in the chat template), and the tag of a leading block that never closes."""
    text = _THINK_BLOCK.sub("", text)
    closing = list(_THINK_CLOSE.finditer(text))
    if closing:
        text = text[closing[-1].end() :]
    # An unclosed block (truncated answer): keep its text, the decision may be in it.
    return _THINK_OPEN.sub("", text, count=1)


def find_decision_object(text: str) -> dict[str, Any] | None:
    """The first balanced {...} that parses as a JSON object with a "decision" key.

    Starting from every "{" in turn finds objects nested in other JSON or in prose; the
    brace matcher skips braces inside JSON strings.
    """
    start = text.find("{")
    while start != -1:
        end = _matching_brace(text, start)
        if end is not None:
            obj = _loads_object(text[start : end + 1])
            if obj is not None and "decision" in obj:
                return obj
        start = text.find("{", start + 1)
    return None


def _matching_brace(text: str, start: int) -> int | None:
    depth, in_string, escaped = 0, False, False
    for i in range(start, len(text)):
        ch = text[i]
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                return i
    return None


def _loads_object(candidate: str) -> dict[str, Any] | None:
    try:
        obj = json.loads(candidate)
    except json.JSONDecodeError:
        return None
    if not isinstance(obj, dict):
        return None
    # Keys are matched case-insensitively ("Decision", "QUANTITY").
    return {str(k).strip().lower(): v for k, v in obj.items()}


def _shown(value: Any) -> str:
    """A value as the model wrote it (JSON), for error messages."""
    return json.dumps(value, ensure_ascii=False)[:60]


def validate(obj: dict[str, Any], allowed_symbols: Collection[str]) -> Decision:
    action = _action(obj.get("decision"))
    reasoning = _reasoning(obj.get("reasoning"))
    if action == "HOLD":
        confidence = _confidence(obj["confidence"]) if obj.get("confidence") is not None else 0
        return Decision(decision="HOLD", reasoning=reasoning, confidence=confidence)
    if obj.get("confidence") is None:
        raise DecisionParseError(f"confidence is required for {action} (a whole number 0-100)")
    return Decision(
        decision=action,
        symbol=_symbol(obj.get("symbol"), allowed_symbols),
        quantity=_quantity(obj.get("quantity")),
        reasoning=reasoning,
        confidence=_confidence(obj["confidence"]),
    )


def _action(value: Any) -> Action:
    if isinstance(value, str):
        action = value.strip().upper()
        for known in ACTIONS:
            if action == known:
                return known
    raise DecisionParseError(f"decision must be BUY, SELL or HOLD, got {_shown(value)}")


def _symbol(value: Any, allowed_symbols: Collection[str]) -> str:
    if not isinstance(value, str) or not value.strip():
        raise DecisionParseError(f"symbol is required for BUY/SELL, got {_shown(value)}")
    symbol = value.strip().upper()
    if symbol not in {s.upper() for s in allowed_symbols}:
        raise DecisionParseError(f"unknown symbol {symbol!r}: not among the symbols shown")
    return symbol


def _quantity(value: Any) -> int:
    qty = _whole_number(value)
    if qty is None or qty <= 0:
        raise DecisionParseError(f"quantity must be a positive whole number, got {_shown(value)}")
    return qty


def _whole_number(value: Any) -> int | None:
    if isinstance(value, bool):  # JSON true is not 1
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() else None
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def _confidence(value: Any) -> int:
    number: float | None = None
    if isinstance(value, int | float) and not isinstance(value, bool):
        number = float(value)
    elif isinstance(value, str) and _NUMBER.fullmatch(value.strip().rstrip("%").strip()):
        number = float(value.strip().rstrip("%"))
    if number is None or not 0 <= number <= 100:
        raise DecisionParseError(f"confidence must be a number from 0 to 100, got {_shown(value)}")
    return round(number)


def _reasoning(value: Any) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
