"""Turn a model's answer text into a validated Decision, or say precisely why not.

Real models wrap their JSON in think blocks, markdown fences and chatty prose; the
parser digs the decision object out of all that. Every failure raises
DecisionParseError with a short reason meant to be shown back to the model in a repair
turn, so the reason names the field and the offending value.

Choices: "confidence" is required for BUY and SELL (a trade without a stated conviction
is not executed; the repair turn asks for it) and defaults to 0 for HOLD; "reasoning"
defaults to "". Numbers may come as JSON numbers or strings of ASCII digits (a "²" or
a full-width "１２" is refused, not read as a number); a float counts as a whole number only
when it is integral (10.0). A HOLD's symbol and quantity are ignored.

Bounds: a quantity above MAX_QUANTITY (or the caller's `max_qty`, what the book could ever
afford) is a parse error, so no absurd number (1e308, 23 digits) ever reaches the risk
gate, a checkpoint (64-bit msgpack integers) or a database column. Whatever the input
(wrong types, oversized text, deeply nested JSON), `parse_decision` raises only
DecisionParseError, so every failure gets the repair turn and then a HOLD.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection
from typing import Any

from pydantic import ValidationError

from mytrader.domain.models import MAX_QUANTITY, Action, Decision

__all__ = ["MAX_ANSWER_CHARS", "MAX_QUANTITY", "DecisionParseError", "parse_decision"]

# A decision is a few hundred characters; reasoning models may think for tens of
# thousands. Past this the answer is refused instead of scanned (the scan is linear, but a
# megabyte of junk is not an answer worth a repair turn's tokens).
MAX_ANSWER_CHARS = 200_000

ACTIONS: tuple[Action, ...] = ("BUY", "SELL", "HOLD")

_THINK_CLOSE = re.compile(r"</think(?:ing)?>", re.IGNORECASE)
_THINK_OPEN = re.compile(r"^\s*<think(?:ing)?>", re.IGNORECASE)
_THINK_OPEN_ANY = re.compile(r"<(think|thinking)>", re.IGNORECASE)
# ASCII only: `\d` and str.isdigit() also match "²", "١" or "１", which int() refuses
# or reads as a number the model did not mean.
_NUMBER = re.compile(r"[+-]?[0-9]+(\.[0-9]+)?")
_DIGITS = re.compile(r"[0-9]+")
_DECODER = json.JSONDecoder()
# Where a JSON object with a key may start. Every failed attempt costs the decoder a scan
# of the text before it (for the error's line number), so attempts are bounded: an answer
# whose decision comes after this many junk objects is not worth reading.
_OBJECT_START = re.compile(r'\{\s*"')
MAX_CANDIDATES = 500


class DecisionParseError(ValueError):
    """The answer is not a usable decision; the message says why, for the repair turn."""


def parse_decision(
    text: str, allowed_symbols: Collection[str], *, max_qty: int | None = None
) -> Decision:
    """The first JSON object with a "decision" key in `text`, validated.

    `max_qty` bounds BUY/SELL quantities below MAX_QUANTITY (e.g. what the book could ever
    afford); None means MAX_QUANTITY alone. Raises only DecisionParseError.
    """
    try:
        return _parse(text, allowed_symbols, max_qty)
    except DecisionParseError:
        raise
    except RecursionError:  # JSON nested thousands deep
        raise DecisionParseError("the answer's JSON is nested too deeply") from None
    except (ValidationError, ValueError, TypeError, AttributeError, OverflowError) as exc:
        # A bug or an input nobody foresaw: still a parse error (repair turn, then HOLD).
        reason = f"unreadable answer ({type(exc).__name__}: {str(exc)[:120]})"
        raise DecisionParseError(reason) from exc


def _parse(text: object, allowed_symbols: Collection[str], max_qty: int | None) -> Decision:
    if text is None:
        text = ""
    if not isinstance(text, str):
        raise DecisionParseError(f"the answer must be text, got {type(text).__name__}")
    if len(text) > MAX_ANSWER_CHARS:
        raise DecisionParseError(
            f"answer too long ({len(text)} characters, at most {MAX_ANSWER_CHARS}): "
            "answer with the JSON decision only"
        )
    answer = strip_thinking(text)
    if not answer.strip():
        raise DecisionParseError("empty answer")
    obj = find_decision_object(answer)
    if obj is None:
        raise DecisionParseError('no JSON object with a "decision" key found in the answer')
    return validate(obj, allowed_symbols, max_qty=max_qty)


def strip_thinking(text: str) -> str:
    """Drop reasoning blocks: closed ones, a prefix ended by a stray closing tag (the opening
    tag was in the chat template), and the tag of a leading block that never closes."""
    text = _drop_closed_blocks(text)
    closing = list(_THINK_CLOSE.finditer(text))
    if closing:
        text = text[closing[-1].end() :]
    # An unclosed block (truncated answer): keep its text, the decision may be in it.
    return _THINK_OPEN.sub("", text, count=1)


def _drop_closed_blocks(text: str) -> str:
    """Remove every <think>...</think> (or <thinking>) block in one left-to-right pass.

    A regex `<think>.*?</think>` retries from every opening tag and goes quadratic on an
    answer full of unclosed tags; this stops at the first block that never closes.
    """
    out: list[str] = []
    pos = 0
    while (opening := _THINK_OPEN_ANY.search(text, pos)) is not None:
        closing = re.compile(f"</{opening.group(1)}>", re.IGNORECASE).search(text, opening.end())
        if closing is None:
            break
        out.append(text[pos : opening.start()])
        pos = closing.end()
    out.append(text[pos:])
    return "".join(out)


def find_decision_object(text: str) -> dict[str, Any] | None:
    """The first {...} that parses as a JSON object with a "decision" key.

    Trying from every `{"` in turn (at most MAX_CANDIDATES) finds objects nested in other
    JSON or in prose. The C JSON decoder reads from each start and stops at the end of the
    object (or at the first character that is not JSON), so junk costs little.
    """
    for n, match in enumerate(_OBJECT_START.finditer(text)):
        if n >= MAX_CANDIDATES:
            break
        obj = _object_at(text, match.start())
        if obj is not None and "decision" in obj:
            return obj
    return None


def _object_at(text: str, start: int) -> dict[str, Any] | None:
    try:
        obj, _ = _DECODER.raw_decode(text, start)
    except (json.JSONDecodeError, RecursionError):  # not JSON here, or nested too deep
        return None
    if not isinstance(obj, dict):
        return None
    # Keys are matched case-insensitively ("Decision", "QUANTITY").
    return {str(k).strip().lower(): v for k, v in obj.items()}


def _shown(value: Any) -> str:
    """A value as the model wrote it (JSON), for error messages."""
    return json.dumps(value, ensure_ascii=False)[:60]


def validate(
    obj: dict[str, Any], allowed_symbols: Collection[str], *, max_qty: int | None = None
) -> Decision:
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
        quantity=_quantity(obj.get("quantity"), max_qty),
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


def _quantity(value: Any, max_qty: int | None = None) -> int:
    qty = _whole_number(value)
    if qty is None or qty <= 0:
        raise DecisionParseError(f"quantity must be a positive whole number, got {_shown(value)}")
    cap = MAX_QUANTITY if max_qty is None else max(0, min(max_qty, MAX_QUANTITY))
    if qty > cap:
        what = "the most this book could ever trade" if cap < MAX_QUANTITY else "the limit"
        raise DecisionParseError(f"quantity {_shown(value)} is more than {cap} shares, {what}")
    return qty


def _whole_number(value: Any) -> int | None:
    if isinstance(value, bool):  # JSON true is not 1
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):  # inf and nan are not integral; 1e308 is, and is capped
        return int(value) if value.is_integer() else None
    if isinstance(value, str) and _DIGITS.fullmatch(value.strip()):
        # Long digit strings: int() refuses over 4300 digits, and none is a quantity.
        digits = value.strip().lstrip("0") or "0"
        return int(digits) if len(digits) <= 19 else MAX_QUANTITY + 1
    return None


def _confidence(value: Any) -> int:
    number: float | None = None
    if isinstance(value, int | float) and not isinstance(value, bool):
        number = float(value) if abs(value) < 1e300 else None  # float(10**400) overflows
    elif isinstance(value, str) and _NUMBER.fullmatch(value.strip().rstrip("%").strip()):
        number = float(value.strip().rstrip("%"))
    if number is None or not 0 <= number <= 100:
        raise DecisionParseError(f"confidence must be a number from 0 to 100, got {_shown(value)}")
    return round(number)


def _reasoning(value: Any) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
