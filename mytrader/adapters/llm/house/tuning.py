"""Adjustments from the last critique: its `ADJUSTMENT: <tag>` line bends the persona rules."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from mytrader.domain.prompt_format import BIG_LOSS_PCT

_ADJUSTMENT = re.compile(r"ADJUSTMENT:\s*`?([A-Za-z_]+)")

MORE_SELECTIVE = "more_selective"
CUT_LOSSES_SOONER = "cut_losses_sooner"
TAKE_PROFITS_SOONER = "take_profits_sooner"
STAY_THE_COURSE = "stay_the_course"


@dataclass(frozen=True)
class Tuning:
    """How the last self-critique bends the rules."""

    tag: str = STAY_THE_COURSE
    min_confidence: int = 0  # a buy below this becomes a HOLD
    size_factor: float = 1.0
    profit_scale: float = 1.0  # multiplies take-profit / overbought thresholds
    stop_pct: float | None = None  # sell any holding down this much (on top of the persona's)


SELECTIVE_MIN_CONFIDENCE = 65
CUT_LOSS_PCT = float(BIG_LOSS_PCT)  # the loss the critique calls "big"


def tuning(last_critique: Any) -> Tuning:
    """The rules' tuning from the last `ADJUSTMENT: <tag>` line of a critique (any author)."""
    tags = _ADJUSTMENT.findall(last_critique) if isinstance(last_critique, str) else []
    tag = tags[-1].lower() if tags else STAY_THE_COURSE
    if tag == MORE_SELECTIVE:
        return Tuning(tag, min_confidence=SELECTIVE_MIN_CONFIDENCE, size_factor=0.5)
    if tag == CUT_LOSSES_SOONER:
        return Tuning(tag, stop_pct=CUT_LOSS_PCT)
    if tag == TAKE_PROFITS_SOONER:
        return Tuning(tag, profit_scale=0.6)
    return Tuning(tag)
