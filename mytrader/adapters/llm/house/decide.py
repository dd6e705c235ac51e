"""Deciding: a persona's decision (exit first, then the best entry) and its stances on the
shortlist, from its rules, the payload's facts and the last critique's tuning."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

from mytrader.adapters.llm.house.personas import Persona, rules_for
from mytrader.adapters.llm.house.signals import Facts, Holding, Json, Signal
from mytrader.adapters.llm.house.tuning import Tuning, tuning


def decision_json(
    action: Literal["BUY", "SELL", "HOLD"], sig: Signal | None, qty: int, why: str
) -> Json:
    return {
        "decision": action,
        "symbol": sig.symbol if sig else None,
        "quantity": qty,
        "reasoning": why,
        "confidence": sig.confidence if sig else 0,
    }


def _best(signals: Sequence[Signal]) -> Signal | None:
    # Highest confidence first; ties go to the alphabetically first symbol (determinism).
    return min(signals, key=lambda s: (-s.confidence, s.symbol), default=None)


def _exit(rules: Persona, h: Holding, sv: Json, t: Tuning) -> Signal | None:
    if t.stop_pct is not None and h.unrealized_pct <= t.stop_pct:
        why = f"down {h.unrealized_pct:.1f}%: cutting the loss, as my last review told me"
        return Signal(h.symbol, 75, why)
    return rules.exit(h, sv, t)


def house_stances(rules: Persona, payload: Json, f: Facts, t: Tuning) -> Json:
    """A stance on every shortlisted symbol, from the persona's own rules."""
    out: Json = {}
    for sym in sorted(payload.get("shortlist") or f.symbols):
        sv = f.symbols.get(sym) or {}
        holding = next((h for h in f.holdings if h.symbol == sym), None)
        if holding is not None:
            sig = _exit(rules, holding, sv, t)
            out[sym] = _stance("SELL", sig) if sig else _stance("HOLD", None)
            continue
        buy = rules.entry(sym, sv, f) or rules.bullish(sym, sv)
        if buy is not None and buy.confidence >= t.min_confidence:
            out[sym] = _stance("BUY", buy)
            continue
        bear = rules.bearish(sym, sv)
        out[sym] = _stance("SELL", bear) if bear else _stance("HOLD", None)
    return out


def _stance(action: str, sig: Signal | None) -> Json:
    return {"stance": action, "conviction": sig.confidence if sig else 0}


def house_decision(persona: str, payload: Json) -> Json:
    """The persona's decision on a decision payload (exit first, then the best entry), with
    its stances on the shortlist."""
    rules, f = rules_for(persona), Facts.of(payload)
    t = tuning(payload.get("last_critique"))
    return {**_decide(rules, f, t), "stances": house_stances(rules, payload, f, t)}


def _decide(rules: Persona, f: Facts, t: Tuning) -> Json:
    exits = [_exit(rules, h, f.symbols.get(h.symbol, {}), t) for h in f.holdings]
    sell = _best([s for s in exits if s is not None])
    if sell is not None:
        qty = next(h.qty for h in f.holdings if h.symbol == sell.symbol)
        return decision_json("SELL", sell, qty, sell.reason)
    entries = [
        rules.entry(sym, sv, f)
        for sym, sv in sorted(f.symbols.items())
        if not f.held(sym) and f.max_qty.get(sym, 0) > 0
    ]
    buy = _best([s for s in entries if s is not None])
    if buy is None:
        return decision_json("HOLD", None, 0, "no setup meets my rules this cycle")
    if buy.confidence < t.min_confidence:
        why = f"best setup {buy.symbol} at confidence {buy.confidence} is below my bar of "
        return decision_json("HOLD", None, 0, why + f"{t.min_confidence} ({t.tag})")
    qty = math.floor(f.max_qty[buy.symbol] * rules.size * buy.confidence / 100 * t.size_factor)
    if qty < 1:
        return decision_json(
            "HOLD", None, 0, f"{buy.symbol} fits, but a whole share is beyond my size"
        )
    sized = f" (size x{t.size_factor:g}, {t.tag})" if t.size_factor != 1 else ""
    return decision_json("BUY", buy, qty, buy.reason + sized)
