"""An agent's stances on the cycle's shortlist, read beside its decision.

The answer may carry `"stances": {"AAPL": {"stance": "BUY", "conviction": 70}, ...}` (a
bare `"AAPL": "sell"` counts too, at conviction 50). The stances are an opinion for the
collaborative vote, never a condition of the decision: a missing, malformed or partial
map never fails the turn. Every shortlisted symbol gets a stance; where the answer gives
none (or junk), the agent's own decision stands in: its action at its confidence for
the symbol it trades, HOLD elsewhere. The decision always wins over a contradicting
stance on its own symbol.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pydantic import ValidationError

from mytrader.domain.models import Decision, Stance
from mytrader.domain.parsing import find_decision_object, strip_thinking

__all__ = ["BARE_CONVICTION", "default_stances", "parse_stances", "read_stances"]

BARE_CONVICTION = 50  # a stance given without a conviction


_HOLD = Stance(stance="HOLD")


def default_stances(decision: Decision, shortlist: Iterable[str]) -> dict[str, Stance]:
    """The stances implied by a decision alone: its trade, HOLD on everything else."""
    out = dict.fromkeys(sorted(set(shortlist)), _HOLD)  # Stance is frozen: one is enough
    if decision.decision != "HOLD" and decision.symbol:
        out[decision.symbol] = Stance(stance=decision.decision, conviction=decision.confidence)
    return out


def _stance(value: Any) -> Stance | None:
    if isinstance(value, str):
        value = {"stance": value, "conviction": BARE_CONVICTION}
    if not isinstance(value, dict):
        return None
    fields = {str(k).strip().lower(): v for k, v in value.items()}
    action = fields.get("stance", fields.get("action", fields.get("decision")))
    if not isinstance(action, str):
        return None
    conviction = fields.get("conviction", fields.get("confidence", BARE_CONVICTION))
    if isinstance(conviction, float) and conviction.is_integer():
        conviction = int(conviction)
    if isinstance(conviction, bool) or not isinstance(conviction, int):
        return None
    try:
        return Stance(stance=action.strip().upper(), conviction=conviction)  # type: ignore[arg-type]
    except ValidationError:
        return None


def read_stances(given: Any, decision: Decision, shortlist: Iterable[str]) -> dict[str, Stance]:
    """Stances from an answer's `stances` value, completed and overruled by the decision."""
    out = default_stances(decision, shortlist)
    if isinstance(given, dict):
        by_symbol = {str(k).strip().upper(): v for k, v in given.items()}
        for sym in out:
            stance = _stance(by_symbol.get(sym))
            if stance is not None:
                out[sym] = stance
    if decision.decision != "HOLD" and decision.symbol:  # the decision is the agent's word
        out[decision.symbol] = Stance(stance=decision.decision, conviction=decision.confidence)
    return out


def parse_stances(text: str, decision: Decision, shortlist: Iterable[str]) -> dict[str, Stance]:
    """The stances of an answer text whose decision parsed as `decision`."""
    obj = find_decision_object(strip_thinking(text or ""))
    return read_stances((obj or {}).get("stances"), decision, shortlist)
