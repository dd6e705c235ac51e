"""What a prompt carries that a program reads back: the critique heading, the ```json block
of facts, and the generic sell-signal thresholds shown in the critique prompt.

The prompt builders (mytrader.prompts) write this format; the house models
(mytrader.adapters.llm.house) read it. One copy, below both.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

# The heading of critique.md; decision prompts never contain it, so a model can tell them apart.
CRITIQUE_MARKER = "## Self-critique review"
FENCE = "```json"

# Generic (persona-neutral) sell-signal thresholds shown as facts in the critique prompt.
OVERBOUGHT_RSI = 70.0
BIG_LOSS_PCT = Decimal("-10")
BIG_GAIN_PCT = Decimal("20")


def _json_block(text: str) -> str | None:
    """The body of the first "```json" fence (spaces or tabs, then a newline, after it) up
    to the first line that starts with backticks. str.find, not a lazy regex: a house
    model reads every prompt, and the scan was a tenth of its turn."""
    at = text.find(FENCE)
    while at != -1:
        body = at + len(FENCE)
        while body < len(text) and text[body] in " \t":
            body += 1
        if text.startswith("\n", body):
            end = text.find("\n```", body + 1)
            return None if end == -1 else text[body + 1 : end]
        at = text.find(FENCE, at + 1)
    return None


def extract_payload(text: str) -> dict[str, Any] | None:
    """The ```json block of a prompt, parsed; None when there is none (or it is not an object).

    A payload line never starts with backticks (strings keep their newlines escaped), so
    the first fence at the start of a line closes the block.
    """
    block = _json_block(text)
    if block is None:
        return None
    try:
        data = json.loads(block)
    except json.JSONDecodeError:
        return None
    return data if isinstance(data, dict) else None
