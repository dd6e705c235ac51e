"""The leaderboard: per account, from the latest portfolio snapshots and LLM usage, with
Sharpe and drawdown over every cycle and SPY over the same dates. `leaderboard` is the one
function behind `mytrader leaderboard` and the dashboard's."""

from __future__ import annotations

from decimal import Decimal
from typing import Protocol

from pydantic import BaseModel

from mytrader.domain.records import Snapshot, Usage

HUNDRED = Decimal("100")


class Standing(BaseModel):
    account: str
    cycle: int
    as_of: str
    equity: Decimal
    return_pct: Decimal
    cash: Decimal
    positions_value: Decimal
    realized_pnl: Decimal
    trades: int
    fees: Decimal
    win_rate: float | None
    llm_calls: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    llm_cost_usd: Decimal = Decimal("0")
    # --- risk (the backtest's metrics module, over the arena's own cycles) ---
    sharpe: float | None = None
    max_drawdown_pct: float | None = None
    spy_return_pct: float | None = None  # SPY over the same dates, for comparison


class LeaderboardReads(Protocol):
    """What the leaderboard reads: the arena store, or the dashboard's reader."""

    def latest_snapshots(self, arena: str) -> list[Snapshot]: ...

    def usage(self, arena: str) -> dict[str, Usage]: ...

    def snapshots(self, arena: str) -> list[Snapshot]: ...

    def benchmark_closes(self, arena: str) -> list[tuple[str, Decimal]]: ...


def leaderboard(reads: LeaderboardReads, arena: str) -> list[Standing]:
    """Every account's standing at its last cycle, best first, with its LLM usage, its
    Sharpe and maximum drawdown over all its cycles, and SPY's return over the arena's."""
    rows = standings(reads.latest_snapshots(arena), reads.usage(arena))
    if not rows:
        return rows
    closes = reads.benchmark_closes(arena)  # SPY at each cycle, as the record step kept it
    spy = float(closes[-1][1] / closes[0][1] - 1) * 100.0 if len(closes) > 1 else None
    return with_risk(rows, reads.snapshots(arena), None if spy is None else round(spy, 4))


def standings(snapshots: list[Snapshot], usage: dict[str, Usage]) -> list[Standing]:
    rows = []
    for snap in snapshots:
        closed = snap.wins + snap.losses
        used = usage.get(snap.account)
        ret = (snap.equity - snap.starting_cash) / snap.starting_cash * HUNDRED
        rows.append(
            Standing(
                account=snap.account,
                cycle=snap.cycle,
                as_of=snap.as_of,
                equity=snap.equity.quantize(Decimal("0.01")),
                return_pct=ret.quantize(Decimal("0.01")),
                cash=snap.cash.quantize(Decimal("0.01")),
                positions_value=snap.positions_value.quantize(Decimal("0.01")),
                realized_pnl=snap.realized_pnl.quantize(Decimal("0.01")),
                trades=snap.trades,
                fees=snap.fees,
                win_rate=round(snap.wins / closed, 4) if closed else None,
                llm_calls=used.calls if used else 0,
                tokens_in=used.tokens_in if used else 0,
                tokens_out=used.tokens_out if used else 0,
                llm_cost_usd=used.cost_usd if used else Decimal("0"),
            )
        )
    return sorted(rows, key=lambda r: (-r.equity, r.account))


def with_risk(
    rows: list[Standing], history: list[Snapshot], spy_return_pct: float | None
) -> list[Standing]:
    """Sharpe and maximum drawdown of each account's equity over all its snapshots (one a
    cycle: daily offline), and SPY's return over the same dates, as public arenas show."""
    from mytrader.domain.metrics import figures

    by_account: dict[str, list[Snapshot]] = {}
    for snap in sorted(history, key=lambda s: s.cycle):
        by_account.setdefault(snap.account, []).append(snap)
    out = []
    for row in rows:
        snaps = by_account.get(row.account) or []
        f = figures([s.as_of for s in snaps], [s.equity for s in snaps])
        out.append(
            row.model_copy(
                update={
                    "sharpe": None if f.sharpe is None else round(f.sharpe, 4),
                    "max_drawdown_pct": None
                    if f.drawdown.max_drawdown_pct is None
                    else round(f.drawdown.max_drawdown_pct, 4),
                    "spy_return_pct": spy_return_pct,
                }
            )
        )
    return out
