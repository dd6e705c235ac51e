"""The leaderboard: per account, from the latest portfolio snapshots and LLM usage, with
drawdown over every cycle, SPY over the same dates, and the evidence (`app.evidence`):
no bare Sharpe below the minimum days (the status says "too early to tell"), the Sharpe's
block-bootstrap interval, PSR, the minimum track record, and the figures net of the LLM
bill beside the gross ones. `leaderboard` is the one function behind `mytrader
leaderboard` and the dashboard's (`leaderboard_and_evidence` gives the evidence too)."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Protocol

from pydantic import BaseModel

from mytrader.domain.money import HUNDRED
from mytrader.domain.records import EvidenceRows, Snapshot, Usage

if TYPE_CHECKING:  # the statistics (scipy, arch) are imported when a leaderboard is made
    from mytrader.domain.evidence import AccountEvidence, Evidence


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
    max_drawdown_pct: float | None = None
    spy_return_pct: float | None = None  # SPY over the same dates, for comparison
    # --- evidence (app.evidence, over daily points): how sure the Sharpe is ---
    status: str | None = None  # e.g. "too early to tell: 3 of 20 days"
    status_code: str | None = None  # too_early, flat, no_edge, short, enough
    days: int = 0  # daily returns
    sharpe: float | None = None  # annualised; None below the minimum days
    sharpe_ci95_low: float | None = None  # stationary block bootstrap
    sharpe_ci95_high: float | None = None
    psr_vs_zero: float | None = None  # P(true Sharpe > 0)
    psr_vs_spy: float | None = None
    min_track_record_days: int | None = None  # for PSR(0) >= 95 %
    # --- net of the LLM bill: equity minus the cumulative LLM cost ---
    net_equity: Decimal | None = None  # exact: a bill of cents shows
    net_return_pct: Decimal | None = None  # percent over the starting cash
    net_sharpe: float | None = None


class LeaderboardReads(Protocol):
    """What the leaderboard reads: the arena store, or the dashboard's reader."""

    def latest_snapshots(self, arena: str) -> list[Snapshot]: ...

    def usage(self, arena: str) -> dict[str, Usage]: ...

    def snapshots(self, arena: str) -> list[Snapshot]: ...

    def benchmark_closes(self, arena: str) -> list[tuple[str, Decimal]]: ...

    def evidence_rows(self, arena: str) -> EvidenceRows: ...


def leaderboard(reads: LeaderboardReads, arena: str) -> list[Standing]:
    """Every account's standing at its last cycle, best first, with its LLM usage, its
    maximum drawdown over all its cycles, SPY's return over the arena's, and its evidence."""
    return leaderboard_and_evidence(reads, arena)[0]


def leaderboard_and_evidence(
    reads: LeaderboardReads, arena: str
) -> tuple[list[Standing], Evidence | None]:
    """`leaderboard`, and the evidence its rows were given (None: no cycle yet)."""
    rows = standings(reads.latest_snapshots(arena), reads.usage(arena))
    if not rows:
        return rows, None
    closes = reads.benchmark_closes(arena)  # SPY at each cycle, as the record step kept it
    spy = float(closes[-1][1] / closes[0][1] - 1) * 100.0 if len(closes) > 1 else None
    rows = with_risk(rows, reads.snapshots(arena), None if spy is None else round(spy, 4))
    from mytrader.app.evidence import arena_evidence

    evidence = arena_evidence(reads, arena)
    return with_evidence(rows, evidence), evidence


def with_evidence(rows: list[Standing], evidence: Evidence) -> list[Standing]:
    """Each row's status, Sharpe (only from the minimum days on) with its interval, and
    its Sharpe net of the LLM bill (net equity and return: `standings`)."""
    found: dict[str, AccountEvidence] = {a.account: a for a in evidence.accounts}
    out = []
    for row in rows:
        ev = found.get(row.account)
        if ev is not None:
            update = {
                "status": ev.status.text,
                "status_code": ev.status.code,
                "days": ev.days,
                "sharpe": ev.gross.sharpe,
                "sharpe_ci95_low": ev.gross.ci95_low,
                "sharpe_ci95_high": ev.gross.ci95_high,
                "psr_vs_zero": ev.gross.psr_vs_zero,
                "psr_vs_spy": ev.gross.psr_vs_spy,
                "min_track_record_days": ev.gross.min_track_record_days,
                "net_sharpe": ev.net.sharpe,
            }
            row = row.model_copy(update=update)
        out.append(row)
    return out


def standings(snapshots: list[Snapshot], usage: dict[str, Usage]) -> list[Standing]:
    rows = []
    for snap in snapshots:
        closed = snap.wins + snap.losses
        used = usage.get(snap.account)
        ret = (snap.equity - snap.starting_cash) / snap.starting_cash * HUNDRED
        cost = used.cost_usd if used else Decimal("0")
        net = snap.equity - cost  # net of the LLM bill: the cumulative cost, exact
        net_ret = (net - snap.starting_cash) / snap.starting_cash * HUNDRED
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
                llm_cost_usd=cost,
                net_equity=net,
                net_return_pct=net_ret.quantize(Decimal("0.0001")),
            )
        )
    return sorted(rows, key=lambda r: (-r.equity, r.account))


def with_risk(
    rows: list[Standing], history: list[Snapshot], spy_return_pct: float | None
) -> list[Standing]:
    """Maximum drawdown of each account's equity over all its snapshots (one a cycle:
    daily offline), and SPY's return over the same dates, as public arenas show. (The
    Sharpe is the evidence's: `with_evidence`.)"""
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
                    "max_drawdown_pct": None
                    if f.drawdown.max_drawdown_pct is None
                    else round(f.drawdown.max_drawdown_pct, 4),
                    "spy_return_pct": spy_return_pct,
                }
            )
        )
    return out
