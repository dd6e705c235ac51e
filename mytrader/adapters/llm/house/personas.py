"""One rule set per persona (exit, entry, bullish and bearish views, size), and the
generalist's for a persona of a user's roster without rules of its own."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from mytrader.adapters.llm.house.signals import (
    Facts,
    Holding,
    Json,
    Signal,
    clamp_confidence,
    in_sectors,
    number,
    numbers,
)
from mytrader.adapters.llm.house.tuning import Tuning

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
        return Signal(h.symbol, clamp_confidence(70 + h.unrealized_pct), why)
    if h.unrealized_pct <= GROK_STOP_PCT:
        why = f"wrong read: down {h.unrealized_pct:.1f}%, cut it"
        return Signal(h.symbol, clamp_confidence(60 - h.unrealized_pct), why)
    return None


def grok_entry(sym: str, sv: Json, f: Facts) -> Signal | None:
    change, rsi = number(sv.get("change_pct")), number(sv.get("rsi14"))
    if change is None or rsi is None or change > GROK_DROP_PCT or rsi > GROK_MAX_RSI:
        return None
    vol = number(sv.get("volatility_20d_pct")) or 0.0
    favoured = in_sectors(sv, GROK_SECTORS)
    raw = 30 + 3 * -change + (GROK_MAX_RSI - rsi) + 3 * vol + (10 if favoured else 0)
    raw += 5 if sym in f.losers else 0
    why = f"dumped {change:.1f}% today, RSI {rsi:.0f}, volatility {vol:.1f}%"
    why += " (biotech/pharma)" if favoured else ""
    return Signal(sym, clamp_confidence(raw), why + ": overreaction to fade")


GROK_OVERSOLD_RSI = 40.0
GROK_DIP_PCT, GROK_DIP_RSI = -2.0, 50.0


def grok_bullish(sym: str, sv: Json) -> Signal | None:
    change, rsi = number(sv.get("change_pct")), number(sv.get("rsi14"))
    if rsi is None or change is None:
        return None
    if rsi <= GROK_OVERSOLD_RSI or (change <= GROK_DIP_PCT and rsi <= GROK_DIP_RSI):
        return Signal(sym, clamp_confidence(30 + GROK_DIP_RSI - rsi), f"oversold (RSI {rsi:.0f})")
    return None


GROK_SQUEEZE_PCT = 3.0
GROK_SQUEEZE_RSI = 65.0


def grok_bearish(sym: str, sv: Json) -> Signal | None:
    change, rsi = number(sv.get("change_pct")), number(sv.get("rsi14"))
    if change is None or rsi is None or change < GROK_SQUEEZE_PCT or rsi < GROK_SQUEEZE_RSI:
        return None
    return Signal(
        sym,
        clamp_confidence(40 + change + rsi - GROK_SQUEEZE_RSI),
        f"squeezed up {change:.1f}%, RSI {rsi:.0f}: sell the bounce",
    )


# DeepSeek: momentum chartist, quick exits.
DEEPSEEK_RSI_LOW, DEEPSEEK_RSI_HIGH = 50.0, 70.0
DEEPSEEK_RSI_EXIT_SOONER = 65.0


def deepseek_exit(h: Holding, sv: Json, t: Tuning) -> Signal | None:
    rsi, hist = number(sv.get("rsi14")), number(sv.get("macd_hist"))
    price, sma20 = number(sv.get("price")), number(sv.get("sma20"))
    ceiling = DEEPSEEK_RSI_EXIT_SOONER if t.profit_scale < 1 else DEEPSEEK_RSI_HIGH
    if rsi is not None and rsi > ceiling:
        return Signal(
            h.symbol, clamp_confidence(rsi), f"RSI {rsi:.0f} above {ceiling:.0f}: overbought"
        )
    if hist is not None and hist < 0:
        return Signal(h.symbol, 70, f"MACD histogram negative ({hist:.3f}): momentum gone")
    if price is not None and sma20 is not None and price < sma20:
        return Signal(h.symbol, 65, f"price {price:.2f} below SMA20 {sma20:.2f}: trend broken")
    return None


def deepseek_entry(sym: str, sv: Json, f: Facts) -> Signal | None:
    nums = numbers(sv, "rsi14", "macd_hist", "macd_hist_prev", "price", "sma20", "bb_mid")
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
    return Signal(sym, clamp_confidence(raw), why)


DEEPSEEK_TREND_RSI = 45.0


def deepseek_bullish(sym: str, sv: Json) -> Signal | None:
    nums = numbers(sv, "rsi14", "macd_hist", "price", "sma20")
    if nums is None:
        return None
    rsi, hist, price, sma20 = nums
    if hist > 0 and price > sma20 and DEEPSEEK_TREND_RSI <= rsi <= DEEPSEEK_RSI_HIGH:
        return Signal(sym, 45, f"uptrend: MACD histogram {hist:.3f} > 0, above SMA20")
    return None


def deepseek_bearish(sym: str, sv: Json) -> Signal | None:
    rsi, hist = number(sv.get("rsi14")), number(sv.get("macd_hist"))
    price, sma20 = number(sv.get("price")), number(sv.get("sma20"))
    if rsi is not None and rsi > DEEPSEEK_RSI_HIGH:
        return Signal(sym, clamp_confidence(rsi), f"RSI {rsi:.0f}: overbought")
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
        return Signal(h.symbol, clamp_confidence(60 + h.unrealized_pct), why)
    drawdown = number(sv.get("drawdown_pct"))
    if drawdown is not None and drawdown >= OPENAI_CLOSED_DRAWDOWN_PCT and h.unrealized_pct > 0:
        why = f"back near its high ({drawdown:.1f}%), up {h.unrealized_pct:.1f}%: gap closed"
        return Signal(h.symbol, 70, why)
    return None


def openai_entry(sym: str, sv: Json, f: Facts) -> Signal | None:
    nums = numbers(sv, "drawdown_pct", "rsi14", "volatility_20d_pct")
    if nums is None or not in_sectors(sv, OPENAI_SECTORS):
        return None
    drawdown, rsi, vol = nums
    low, high = OPENAI_VOL_RANGE
    if drawdown > OPENAI_MAX_DRAWDOWN_PCT or rsi >= OPENAI_MAX_RSI or not low <= vol <= high:
        return None
    raw = 45 + (OPENAI_MAX_DRAWDOWN_PCT - drawdown) + (OPENAI_MAX_RSI - rsi) / 2
    why = f"quality {sv.get('sector')} name {drawdown:.1f}% below its high, RSI {rsi:.0f}, "
    return Signal(
        sym, clamp_confidence(raw), why + f"volatility {vol:.1f}%: undervalued, buy and wait"
    )


OPENAI_CHEAP_DRAWDOWN_PCT = -8.0
OPENAI_CHEAP_RSI = 55.0


def openai_bullish(sym: str, sv: Json) -> Signal | None:
    drawdown, rsi = number(sv.get("drawdown_pct")), number(sv.get("rsi14"))
    if drawdown is None or rsi is None or not in_sectors(sv, OPENAI_SECTORS):
        return None
    if drawdown <= OPENAI_CHEAP_DRAWDOWN_PCT and rsi <= OPENAI_CHEAP_RSI:
        why = f"{drawdown:.1f}% below its high: cheap for its quality"
        return Signal(sym, clamp_confidence(40 - drawdown / 2), why)
    return None


OPENAI_RICH_DRAWDOWN_PCT = -2.0
OPENAI_RICH_RSI = 65.0


def openai_bearish(sym: str, sv: Json) -> Signal | None:
    drawdown, rsi = number(sv.get("drawdown_pct")), number(sv.get("rsi14"))
    if drawdown is None or rsi is None:
        return None
    if drawdown < OPENAI_RICH_DRAWDOWN_PCT or rsi < OPENAI_RICH_RSI:
        return None
    return Signal(
        sym, clamp_confidence(rsi - 10), f"at its high with RSI {rsi:.0f}: priced for perfection"
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
    nums = numbers(sv, "price", "sma50", "rsi14", "change_pct")
    if nums is None:
        return None
    price, sma50, rsi, change = nums
    if price <= sma50 or rsi > GENERAL_MAX_RSI or change >= 0:
        return None
    why = f"pullback in an uptrend: above SMA50 {sma50:.2f}, RSI {rsi:.0f}, down {change:.1f}%"
    return Signal(sym, clamp_confidence(50 + GENERAL_MAX_RSI - rsi), why)


def general_bullish(sym: str, sv: Json) -> Signal | None:
    nums = numbers(sv, "price", "sma50", "rsi14")
    if nums is None or nums[0] <= nums[1] or nums[2] > 60:
        return None
    return Signal(sym, 40, f"above SMA50 {nums[1]:.2f}, RSI {nums[2]:.0f}: healthy trend")


def general_bearish(sym: str, sv: Json) -> Signal | None:
    nums = numbers(sv, "price", "sma50", "macd_hist")
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
