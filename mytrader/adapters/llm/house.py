"""Deterministic "house" models: offline stand-ins for the real LLMs, one per persona.

A house model reads the very prompt a real model gets — only the JSON facts block of the
last human message, never any other source — and answers in the same format: a decision
JSON object, or a plain-text self-critique ending in `ADJUSTMENT: <tag>`. The graph
parses its answer through the same `parse_decision` as a real model's, so the offline
arena exercises the whole path. Same prompt, same answer.

Each persona is a small rule set (entry, exit, bearish view, size); a persona of a
user's roster without rules of its own gets the generalist's. Beside its decision, a
house model states a stance on every shortlisted symbol from the same rules: SELL a
holding its exit rule fires on, BUY a name its entry rule fires on, BUY (at a lower
conviction) a name its softer bullish view likes, SELL a name its bearish rule fires on,
else HOLD. The last critique's ADJUSTMENT tag
changes the rules: `more_selective` raises the bar and halves the size,
`take_profits_sooner` lowers the take-profit thresholds, `cut_losses_sooner` sells any
position down 10% or more. Real models are asked to end their critiques with the same
line, so the tags work whoever wrote the critique.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.runnables import Runnable
from langchain_core.tools import BaseTool
from pydantic import field_validator

from mytrader.domain.prompt_format import BIG_LOSS_PCT, CRITIQUE_MARKER, extract_payload

__all__ = ["HouseModel", "house_critique", "house_decision"]

Json = dict[str, Any]

# --- reading the facts -------------------------------------------------------------------


def _num(value: Any) -> float | None:
    """A number from the payload (Decimals arrive as strings); None when absent or junk."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return float(value)
    try:
        return float(Decimal(str(value)))
    except (InvalidOperation, ValueError):
        return None


@dataclass(frozen=True)
class Holding:
    symbol: str
    qty: int
    unrealized_pct: float


@dataclass(frozen=True)
class Facts:
    """The parts of a decision payload the rules look at."""

    symbols: dict[str, Json]  # market.symbols
    holdings: list[Holding]
    max_qty: dict[str, int]
    losers: frozenset[str]

    @classmethod
    def of(cls, payload: Json) -> Facts:
        market = payload.get("market") or {}
        positions = (payload.get("book") or {}).get("positions") or {}
        holdings = [
            Holding(sym, int(pos.get("qty", 0)), _num(pos.get("unrealized_pct")) or 0.0)
            for sym, pos in sorted(positions.items())
            if int(pos.get("qty", 0)) > 0
        ]
        movers = market.get("movers") or {}
        losers = frozenset(m.get("symbol", "") for m in movers.get("losers", []))
        max_qty = {sym: int(q) for sym, q in (payload.get("max_buy_qty") or {}).items()}
        return cls(market.get("symbols") or {}, holdings, max_qty, losers)

    def held(self, symbol: str) -> bool:
        return any(h.symbol == symbol for h in self.holdings)


def _nums(sv: Json, *keys: str) -> list[float] | None:
    """All of `keys` as numbers, or None when one is missing (a rule needs them all)."""
    values = [_num(sv.get(k)) for k in keys]
    return None if None in values else [v for v in values if v is not None]


def _sector_in(sv: Json, sectors: frozenset[str]) -> bool:
    # Exact names, not substrings: "biotech" must not pass for "tech".
    return str(sv.get("sector", "")).strip().lower() in sectors


# --- adjustments from the last critique --------------------------------------------------

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


# --- the rules ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Signal:
    """A rule that fired on one symbol: how strongly (confidence) and why."""

    symbol: str
    confidence: int
    reason: str


def _confidence(raw: float) -> int:
    return max(0, min(95, round(raw)))


ExitRule = Callable[[Holding, Json, Tuning], Signal | None]
EntryRule = Callable[[str, Json, Facts], Signal | None]
ViewRule = Callable[[str, Json], Signal | None]


@dataclass(frozen=True)
class Persona:
    exit: ExitRule
    entry: EntryRule
    # Stances only: a name worth owning though it is not this persona's own trade (a
    # softer bar than `entry`, at a lower conviction), and one that should not be held.
    bullish: ViewRule
    bearish: ViewRule
    size: float  # fraction of max_buy_qty at confidence 100


# Grok: contrarian sniper on volatile names.
GROK_DROP_PCT = -3.0
GROK_MAX_RSI = 40.0
GROK_TAKE_PROFIT_PCT = 8.0
GROK_STOP_PCT = -12.0
GROK_SECTORS = frozenset({"biotech", "biotechnology", "pharma", "healthcare"})


def grok_exit(h: Holding, sv: Json, t: Tuning) -> Signal | None:
    target = GROK_TAKE_PROFIT_PCT * t.profit_scale
    if h.unrealized_pct >= target:
        why = f"bounce paid: up {h.unrealized_pct:.1f}% (target {target:.1f}%), take it"
        return Signal(h.symbol, _confidence(70 + h.unrealized_pct), why)
    if h.unrealized_pct <= GROK_STOP_PCT:
        why = f"wrong read: down {h.unrealized_pct:.1f}%, cut it"
        return Signal(h.symbol, _confidence(60 - h.unrealized_pct), why)
    return None


def grok_entry(sym: str, sv: Json, f: Facts) -> Signal | None:
    change, rsi = _num(sv.get("change_pct")), _num(sv.get("rsi14"))
    if change is None or rsi is None or change > GROK_DROP_PCT or rsi > GROK_MAX_RSI:
        return None
    vol = _num(sv.get("volatility_20d_pct")) or 0.0
    favoured = _sector_in(sv, GROK_SECTORS)
    raw = 30 + 3 * -change + (GROK_MAX_RSI - rsi) + 3 * vol + (10 if favoured else 0)
    raw += 5 if sym in f.losers else 0
    why = f"dumped {change:.1f}% today, RSI {rsi:.0f}, volatility {vol:.1f}%"
    why += " (biotech/pharma)" if favoured else ""
    return Signal(sym, _confidence(raw), why + ": overreaction to fade")


GROK_OVERSOLD_RSI = 40.0
GROK_DIP_PCT, GROK_DIP_RSI = -2.0, 50.0


def grok_bullish(sym: str, sv: Json) -> Signal | None:
    change, rsi = _num(sv.get("change_pct")), _num(sv.get("rsi14"))
    if rsi is None or change is None:
        return None
    if rsi <= GROK_OVERSOLD_RSI or (change <= GROK_DIP_PCT and rsi <= GROK_DIP_RSI):
        return Signal(sym, _confidence(30 + GROK_DIP_RSI - rsi), f"oversold (RSI {rsi:.0f})")
    return None


GROK_SQUEEZE_PCT = 3.0
GROK_SQUEEZE_RSI = 65.0


def grok_bearish(sym: str, sv: Json) -> Signal | None:
    change, rsi = _num(sv.get("change_pct")), _num(sv.get("rsi14"))
    if change is None or rsi is None or change < GROK_SQUEEZE_PCT or rsi < GROK_SQUEEZE_RSI:
        return None
    return Signal(
        sym,
        _confidence(40 + change + rsi - GROK_SQUEEZE_RSI),
        f"squeezed up {change:.1f}%, RSI {rsi:.0f}: sell the bounce",
    )


# DeepSeek: momentum chartist, quick exits.
DEEPSEEK_RSI_LOW, DEEPSEEK_RSI_HIGH = 50.0, 70.0
DEEPSEEK_RSI_EXIT_SOONER = 65.0


def deepseek_exit(h: Holding, sv: Json, t: Tuning) -> Signal | None:
    rsi, hist = _num(sv.get("rsi14")), _num(sv.get("macd_hist"))
    price, sma20 = _num(sv.get("price")), _num(sv.get("sma20"))
    ceiling = DEEPSEEK_RSI_EXIT_SOONER if t.profit_scale < 1 else DEEPSEEK_RSI_HIGH
    if rsi is not None and rsi > ceiling:
        return Signal(h.symbol, _confidence(rsi), f"RSI {rsi:.0f} above {ceiling:.0f}: overbought")
    if hist is not None and hist < 0:
        return Signal(h.symbol, 70, f"MACD histogram negative ({hist:.3f}): momentum gone")
    if price is not None and sma20 is not None and price < sma20:
        return Signal(h.symbol, 65, f"price {price:.2f} below SMA20 {sma20:.2f}: trend broken")
    return None


def deepseek_entry(sym: str, sv: Json, f: Facts) -> Signal | None:
    nums = _nums(sv, "rsi14", "macd_hist", "macd_hist_prev", "price", "sma20", "bb_mid")
    if nums is None:
        return None
    rsi, hist, prev, price, sma20, mid = nums
    rising = hist > 0 and hist > prev
    strong = DEEPSEEK_RSI_LOW <= rsi <= DEEPSEEK_RSI_HIGH
    if not (rising and strong and price > sma20 and price > mid):
        return None
    # Strength: how fast the histogram grows (per dollar of price) and how much room RSI has.
    accel = (hist - prev) / price * 1000
    raw = 50 + min(20.0, 10 * accel) + (DEEPSEEK_RSI_HIGH - rsi) / 2
    why = f"MACD hist {prev:.3f} -> {hist:.3f} rising, RSI {rsi:.0f}, price above SMA20 and BB mid"
    return Signal(sym, _confidence(raw), why)


DEEPSEEK_TREND_RSI = 45.0


def deepseek_bullish(sym: str, sv: Json) -> Signal | None:
    nums = _nums(sv, "rsi14", "macd_hist", "price", "sma20")
    if nums is None:
        return None
    rsi, hist, price, sma20 = nums
    if hist > 0 and price > sma20 and DEEPSEEK_TREND_RSI <= rsi <= DEEPSEEK_RSI_HIGH:
        return Signal(sym, 45, f"uptrend: MACD histogram {hist:.3f} > 0, above SMA20")
    return None


def deepseek_bearish(sym: str, sv: Json) -> Signal | None:
    rsi, hist = _num(sv.get("rsi14")), _num(sv.get("macd_hist"))
    price, sma20 = _num(sv.get("price")), _num(sv.get("sma20"))
    if rsi is not None and rsi > DEEPSEEK_RSI_HIGH:
        return Signal(sym, _confidence(rsi), f"RSI {rsi:.0f}: overbought")
    if hist is not None and hist < 0 and price is not None and sma20 is not None and price < sma20:
        return Signal(sym, 60, f"MACD histogram {hist:.3f} and price below SMA20: downtrend")
    return None


# OpenAI: value and patience.
OPENAI_MAX_DRAWDOWN_PCT = -15.0
OPENAI_MAX_RSI = 45.0
OPENAI_VOL_RANGE = (0.8, 3.5)
OPENAI_TAKE_PROFIT_PCT = 20.0
OPENAI_CLOSED_DRAWDOWN_PCT = -2.0
# Large, durable sectors; biotech is Grok's casino, not a fundamentalist's hunting ground.
OPENAI_SECTORS = frozenset(
    {"healthcare", "pharma", "tech", "technology", "consumer", "communication"}
)


def openai_exit(h: Holding, sv: Json, t: Tuning) -> Signal | None:
    target = OPENAI_TAKE_PROFIT_PCT * t.profit_scale
    if h.unrealized_pct >= target:
        why = f"value realised: up {h.unrealized_pct:.1f}% (target {target:.0f}%)"
        return Signal(h.symbol, _confidence(60 + h.unrealized_pct), why)
    drawdown = _num(sv.get("drawdown_pct"))
    if drawdown is not None and drawdown >= OPENAI_CLOSED_DRAWDOWN_PCT and h.unrealized_pct > 0:
        why = f"back near its high ({drawdown:.1f}%), up {h.unrealized_pct:.1f}%: gap closed"
        return Signal(h.symbol, 70, why)
    return None


def openai_entry(sym: str, sv: Json, f: Facts) -> Signal | None:
    nums = _nums(sv, "drawdown_pct", "rsi14", "volatility_20d_pct")
    if nums is None or not _sector_in(sv, OPENAI_SECTORS):
        return None
    drawdown, rsi, vol = nums
    low, high = OPENAI_VOL_RANGE
    if drawdown > OPENAI_MAX_DRAWDOWN_PCT or rsi >= OPENAI_MAX_RSI or not low <= vol <= high:
        return None
    raw = 45 + (OPENAI_MAX_DRAWDOWN_PCT - drawdown) + (OPENAI_MAX_RSI - rsi) / 2
    why = f"quality {sv.get('sector')} name {drawdown:.1f}% below its high, RSI {rsi:.0f}, "
    return Signal(sym, _confidence(raw), why + f"volatility {vol:.1f}%: undervalued, buy and wait")


OPENAI_CHEAP_DRAWDOWN_PCT = -8.0
OPENAI_CHEAP_RSI = 55.0


def openai_bullish(sym: str, sv: Json) -> Signal | None:
    drawdown, rsi = _num(sv.get("drawdown_pct")), _num(sv.get("rsi14"))
    if drawdown is None or rsi is None or not _sector_in(sv, OPENAI_SECTORS):
        return None
    if drawdown <= OPENAI_CHEAP_DRAWDOWN_PCT and rsi <= OPENAI_CHEAP_RSI:
        why = f"{drawdown:.1f}% below its high: cheap for its quality"
        return Signal(sym, _confidence(40 - drawdown / 2), why)
    return None


OPENAI_RICH_DRAWDOWN_PCT = -2.0
OPENAI_RICH_RSI = 65.0


def openai_bearish(sym: str, sv: Json) -> Signal | None:
    drawdown, rsi = _num(sv.get("drawdown_pct")), _num(sv.get("rsi14"))
    if drawdown is None or rsi is None:
        return None
    if drawdown < OPENAI_RICH_DRAWDOWN_PCT or rsi < OPENAI_RICH_RSI:
        return None
    return Signal(
        sym, _confidence(rsi - 10), f"at its high with RSI {rsi:.0f}: priced for perfection"
    )


# The generalist: any persona of a user's roster without rules of its own. Buys a
# pullback in an uptrend, sells a downtrend.
GENERAL_MAX_RSI = 45.0
GENERAL_TAKE_PROFIT_PCT = 12.0
GENERAL_STOP_PCT = -8.0


def general_exit(h: Holding, sv: Json, t: Tuning) -> Signal | None:
    target = GENERAL_TAKE_PROFIT_PCT * t.profit_scale
    if h.unrealized_pct >= target:
        return Signal(h.symbol, 70, f"up {h.unrealized_pct:.1f}% (target {target:.0f}%)")
    if h.unrealized_pct <= GENERAL_STOP_PCT:
        return Signal(h.symbol, 70, f"down {h.unrealized_pct:.1f}%: stop")
    return None


def general_entry(sym: str, sv: Json, f: Facts) -> Signal | None:
    nums = _nums(sv, "price", "sma50", "rsi14", "change_pct")
    if nums is None:
        return None
    price, sma50, rsi, change = nums
    if price <= sma50 or rsi > GENERAL_MAX_RSI or change >= 0:
        return None
    why = f"pullback in an uptrend: above SMA50 {sma50:.2f}, RSI {rsi:.0f}, down {change:.1f}%"
    return Signal(sym, _confidence(50 + GENERAL_MAX_RSI - rsi), why)


def general_bullish(sym: str, sv: Json) -> Signal | None:
    nums = _nums(sv, "price", "sma50", "rsi14")
    if nums is None or nums[0] <= nums[1] or nums[2] > 60:
        return None
    return Signal(sym, 40, f"above SMA50 {nums[1]:.2f}, RSI {nums[2]:.0f}: healthy trend")


def general_bearish(sym: str, sv: Json) -> Signal | None:
    nums = _nums(sv, "price", "sma50", "macd_hist")
    if nums is None:
        return None
    price, sma50, hist = nums
    if price >= sma50 or hist >= 0:
        return None
    return Signal(sym, 55, f"below SMA50 {sma50:.2f} with MACD histogram {hist:.3f}: downtrend")


RULES: dict[str, Persona] = {
    "grok": Persona(grok_exit, grok_entry, grok_bullish, grok_bearish, size=0.8),
    "deepseek": Persona(deepseek_exit, deepseek_entry, deepseek_bullish, deepseek_bearish, 0.6),
    "openai": Persona(openai_exit, openai_entry, openai_bullish, openai_bearish, size=1.0),
}
GENERALIST = Persona(general_exit, general_entry, general_bullish, general_bearish, size=0.7)


def rules_for(persona: str) -> Persona:
    return RULES.get(persona, GENERALIST)


# --- deciding ----------------------------------------------------------------------------


def _answer(action: Literal["BUY", "SELL", "HOLD"], sig: Signal | None, qty: int, why: str) -> Json:
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
        return _answer("SELL", sell, qty, sell.reason)
    entries = [
        rules.entry(sym, sv, f)
        for sym, sv in sorted(f.symbols.items())
        if not f.held(sym) and f.max_qty.get(sym, 0) > 0
    ]
    buy = _best([s for s in entries if s is not None])
    if buy is None:
        return _answer("HOLD", None, 0, "no setup meets my rules this cycle")
    if buy.confidence < t.min_confidence:
        why = f"best setup {buy.symbol} at confidence {buy.confidence} is below my bar of "
        return _answer("HOLD", None, 0, why + f"{t.min_confidence} ({t.tag})")
    qty = math.floor(f.max_qty[buy.symbol] * rules.size * buy.confidence / 100 * t.size_factor)
    if qty < 1:
        return _answer("HOLD", None, 0, f"{buy.symbol} fits, but a whole share is beyond my size")
    sized = f" (size x{t.size_factor:g}, {t.tag})" if t.size_factor != 1 else ""
    return _answer("BUY", buy, qty, buy.reason + sized)


# --- self-critique -----------------------------------------------------------------------

WIN_RATE_FLOOR = 50.0
TRADES_PER_CYCLE_CEILING = 0.5


@dataclass(frozen=True)
class Record:
    """The facts of a critique payload the house critique reasons about."""

    since: int
    trades: int
    cycles: int
    closed: int
    win_rate: float | None
    fees: float
    realized: float
    buys: list[str]
    herd: list[str]
    signals: dict[str, list[str]]  # open positions with sell signals
    big_losses: list[str]  # open positions down CUT_LOSS_PCT or more

    @classmethod
    def of(cls, payload: Json) -> Record:
        book = payload.get("book") or {}
        herd = payload.get("herd") or {}
        positions = sorted((payload.get("positions") or {}).items())
        return cls(
            since=int(payload.get("trades_since_critique", 0)),
            trades=int(book.get("trades", 0)),
            cycles=max(1, int(payload.get("cycle", 1))),
            closed=int(book.get("wins", 0)) + int(book.get("losses", 0)),
            win_rate=_num(book.get("win_rate")),
            fees=_num(book.get("fees")) or 0.0,
            realized=_num(book.get("realized_pnl")) or 0.0,
            buys=list(herd.get("recent_buys") or []),
            herd=list(herd.get("recent_buys_in_todays_crowd") or []),
            signals={sym: pos["sell_signals"] for sym, pos in positions if pos.get("sell_signals")},
            big_losses=[
                sym
                for sym, pos in positions
                if (_num(pos.get("unrealized_pct")) or 0.0) <= CUT_LOSS_PCT
            ],
        )

    def overtrading(self) -> list[str]:
        """Why this record says: trade less (empty when it does not)."""
        reasons = []
        if self.closed and self.win_rate is not None and self.win_rate < WIN_RATE_FLOOR:
            reasons.append(f"my win rate {self.win_rate:.0f}% is below {WIN_RATE_FLOOR:.0f}%")
        if self.closed and self.realized - self.fees <= 0:
            reasons.append("fees and losses eat my realized profit")
        if self.trades / self.cycles > TRADES_PER_CYCLE_CEILING:
            reasons.append(f"{self.trades} trades in {self.cycles} cycles is too many")
        return reasons


def _adjustment(r: Record) -> str:
    # The worst problem first: a losing or overactive record, then losses left to run.
    if r.overtrading():
        return MORE_SELECTIVE
    if r.big_losses:
        return CUT_LOSSES_SOONER
    return TAKE_PROFITS_SOONER if r.signals else STAY_THE_COURSE


_PLANS = {
    MORE_SELECTIVE: "only take my strongest setups, and at half size, until the record improves.",
    CUT_LOSSES_SOONER: f"cut any position down {-CUT_LOSS_PCT:.0f}% or more instead of hoping.",
    TAKE_PROFITS_SOONER: "act on exit signals earlier and take profits at a lower threshold.",
    STAY_THE_COURSE: "keep the rules that are working; no change.",
}


def house_critique(payload: Json) -> str:
    """Four short answers from the critique payload's facts, then the ADJUSTMENT line."""
    r = Record.of(payload)
    tag, why = _adjustment(r), r.overtrading()
    rate = "n/a" if r.win_rate is None else f"{r.win_rate:.0f}%"
    missed = "; ".join(f"{sym}: {', '.join(sig)}" for sym, sig in r.signals.items())
    herd = f" ({', '.join(r.herd)})" if r.herd else ""
    lines = [
        f"1. Trading too much? {r.since} trades since my last review, {r.trades} in "
        f"{r.cycles} cycles; win rate {rate} over {r.closed} closed trades; fees "
        f"${r.fees:.2f} against ${r.realized:.2f} realized (net ${r.realized - r.fees:.2f}). "
        + ("Yes: " + "; ".join(why) + "." if why else "No."),
        f"2. Following the herd? {len(r.herd)} of my {len(r.buys)} recent buys are among "
        f"today's top gainers or most active names{herd}.",
        f"3. Missed sell signals? {missed or 'none'}.",
        "4. More profit: " + _PLANS[tag],
        f"ADJUSTMENT: {tag}",
    ]
    return "\n".join(lines)


# --- the chat model ----------------------------------------------------------------------


def _last_human_text(messages: Sequence[BaseMessage]) -> str:
    for message in reversed(messages):
        if isinstance(message, HumanMessage):
            return message.text
    return ""


def _is_critique(prompt: str) -> bool:
    # Only the prose before the facts block counts: the facts may quote an old critique.
    return CRITIQUE_MARKER in prompt.split("```json", 1)[0]


def house_answer(persona: str, prompt: str) -> str:
    """The house model's answer text to the prompt (a decision JSON or a critique)."""
    payload = extract_payload(prompt)
    if payload is None:  # a repair prompt, or no facts: the safe answer
        hold = _answer("HOLD", None, 0, "no facts to decide on")
        return json.dumps(hold)
    if _is_critique(prompt):
        return house_critique(payload)
    return json.dumps(house_decision(persona, payload), ensure_ascii=False)


class HouseModel(BaseChatModel):
    """A persona's deterministic model: reads only the last human message's facts block."""

    persona: str

    @field_validator("persona")
    @classmethod
    def _known(cls, value: str) -> str:
        if not re.fullmatch(r"[a-z][a-z0-9_]{0,15}", value):
            raise ValueError(f"{value!r} is not a persona name")
        return value

    @property
    def _llm_type(self) -> str:
        return "house"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"persona": self.persona}

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        text = house_answer(self.persona, _last_human_text(messages))
        tokens_in = sum(len(m.text) for m in messages) // 4
        tokens_out = len(text) // 4
        message = AIMessage(
            content=text,
            response_metadata={"model_name": f"house-{self.persona}"},
            usage_metadata={
                "input_tokens": tokens_in,
                "output_tokens": tokens_out,
                "total_tokens": tokens_in + tokens_out,
            },
        )
        return ChatResult(generations=[ChatGeneration(message=message)])

    def bind_tools(
        self,
        tools: Sequence[dict[str, Any] | type | Callable[..., Any] | BaseTool],
        *,
        tool_choice: str | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, AIMessage]:
        # House models decide from the prompt alone; they never call tools.
        return self
