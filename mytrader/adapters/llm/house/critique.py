"""Self-critique: four short answers from a critique payload's facts, then the
`ADJUSTMENT: <tag>` line the rules read on the next decision."""

from __future__ import annotations

from dataclasses import dataclass

from mytrader.adapters.llm.house.signals import Json, number
from mytrader.adapters.llm.house.tuning import (
    CUT_LOSS_PCT,
    CUT_LOSSES_SOONER,
    MORE_SELECTIVE,
    STAY_THE_COURSE,
    TAKE_PROFITS_SOONER,
)

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
            win_rate=number(book.get("win_rate")),
            fees=number(book.get("fees")) or 0.0,
            realized=number(book.get("realized_pnl")) or 0.0,
            buys=list(herd.get("recent_buys") or []),
            herd=list(herd.get("recent_buys_in_todays_crowd") or []),
            signals={sym: pos["sell_signals"] for sym, pos in positions if pos.get("sell_signals")},
            big_losses=[
                sym
                for sym, pos in positions
                if (number(pos.get("unrealized_pct")) or 0.0) <= CUT_LOSS_PCT
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
