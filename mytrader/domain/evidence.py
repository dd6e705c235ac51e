"""Evidence, not anecdotes: how sure each figure a person reads to compare models is (issue 17).

One call, `evidence_of`, turns per-account daily equity curves (and SPY's, the LLM bill, the
closed trades' stated confidence, the collaborative account's vote history) into one `Evidence`
model that every surface prints: per account the gross and net-of-LLM-bill figures, a
block-bootstrap interval of the Sharpe ratio, PSR against 0 and against SPY's Sharpe, the
minimum track record length and a status in words; who beats whom; calibration; attribution.
The statistics and their rules are in evidence_sharpe (Sharpe) and evidence_trades
(calibration, attribution); this module applies them to curves.

Rules of this module:

- A day is one daily return: two consecutive equity points. `days` counts returns.
- Too early to tell: below MIN_DAYS days no Sharpe figure is given at all (Sharpe, interval,
  PSR, minimum track record are None); the status says "too early to tell: N of 20 days". From
  MIN_DAYS on, until the track record reaches its minimum length M (MinTRL against a Sharpe of
  0 at 95 %, rounded up, on the gross returns), it says "too early to tell: N of M days". A
  Sharpe not above 0 has no minimum length: "no edge shown". A curve that never moved has no
  Sharpe: "no Sharpe". Only then: "long enough".
- PSR against SPY: SPY's per-day Sharpe over the account's days (the days both curves have)
  taken as the threshold. Who beats SPY with SPY's own uncertainty: the pairwise matrix.
- Net of the LLM bill: net equity on a day = equity - the cumulative LLM cost up to that day
  (the latest cost point on or before it; 0 before the first). Net return is over the first
  gross equity, so the whole bill counts; net Sharpe is that of the net curve's daily returns.
  The collaborative account pays for nothing of its own (its decisions are the personas'
  stances, whose calls are billed to the personas): its cost is 0, and a cost given for it
  is refused. With house models (cost 0) net and gross are equal.
- Who beats whom: on gross daily returns over the days both curves have; None below MIN_DAYS
  common days or for a flat curve.
- Floats are rounded to 6 decimals, so the JSON is stable.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from mytrader.domain import evidence_sharpe as es
from mytrader.domain.evidence_trades import (
    Attribution,
    Calibration,
    ClosedTrade,
    VotedTrade,
    attribution,
    calibration,
)

MIN_DAYS = 20  # days of returns below which no Sharpe is given
COLLABORATIVE = "collaborative"  # the account of the vote (the name config.py gives it)
SPY = "SPY"
DIGITS = 6

StatusCode = Literal["too_early", "flat", "no_edge", "short", "enough"]


class EvidenceParams(BaseModel):
    """The rules' numbers, reported with the evidence they produced."""

    model_config = ConfigDict(frozen=True)

    min_days: int = Field(default=MIN_DAYS, ge=3)
    samples: int = Field(default=es.SAMPLES, ge=100)
    seed: int = es.SEED
    level: float = es.LEVEL
    trl_confidence: float = es.TRL_CONFIDENCE
    trading_days: int = es.TRADING_DAYS
    block_rule: str = "stationary bootstrap, Politis-White block length rounded up, in [1, n/2]"


class Point(BaseModel):
    """One value of a daily series: equity, or cumulative LLM cost (USD), on an ISO date."""

    day: str
    value: Decimal


class Performance(BaseModel):
    end_equity: Decimal | None
    return_pct: float | None  # percent over the first gross equity
    sharpe: float | None  # annualised; None below min_days
    ci95_low: float | None  # stationary block bootstrap, percentile
    ci95_high: float | None
    block_length: int | None  # mean block length (days) the interval used
    psr_vs_zero: float | None  # P(true Sharpe > 0)
    psr_vs_spy: float | None  # P(true Sharpe > SPY's Sharpe over the same days)
    min_track_record_days: int | None  # for PSR(0) >= 95 %; None: no length suffices
    min_track_record_days_vs_spy: int | None


class Status(BaseModel):
    code: StatusCode
    text: str  # what every surface prints, e.g. "too early to tell: 12 of 20 days"
    days: int
    needed_days: int | None


class AccountEvidence(BaseModel):
    account: str
    start: str | None
    end: str | None
    days: int  # daily returns
    pays_llm_bill: bool  # False for the collaborative account
    llm_cost_usd: Decimal  # cumulative, at the last day
    gross: Performance
    net: Performance
    status: Status


class Beats(BaseModel):
    """p[i][j] = P(Sharpe of names[i] > Sharpe of names[j]); days[i][j] the common days."""

    names: list[str]
    p: list[list[float | None]]
    days: list[list[int]]


class Evidence(BaseModel):
    params: EvidenceParams
    accounts: list[AccountEvidence]  # alphabetical
    spy: Performance | None
    beats: Beats
    calibration: dict[str, Calibration]  # by who stated the confidence (persona, or the vote)
    attribution: Attribution | None


# --- curves --------------------------------------------------------------------------------


def _checked(points: Sequence[Point], what: str) -> list[Point]:
    days = [p.day for p in points]
    if any(a >= b for a, b in zip(days, days[1:], strict=False)):
        raise ValueError(f"{what}: days must be strictly increasing")
    return list(points)


def returns_of(values: Sequence[Decimal]) -> es.FloatArray:
    x = es.as_returns([float(v) for v in values])
    if len(x) < 2:
        return es.as_returns([])
    if not (x > 0).all():
        raise ValueError("equity must stay positive for daily returns")
    return x[1:] / x[:-1] - 1.0


def cost_on(costs: Sequence[Point], day: str) -> Decimal:
    """Cumulative cost on a day: the latest cost point on or before it; 0 before the first."""
    found = Decimal(0)
    for p in costs:
        if p.day > day:
            break
        found = p.value
    return found


def net_of(equity: Sequence[Point], costs: Sequence[Point]) -> list[Point]:
    return [Point(day=p.day, value=p.value - cost_on(costs, p.day)) for p in equity]


def common(a: Sequence[Point], b: Sequence[Point]) -> tuple[es.FloatArray, es.FloatArray]:
    """Daily returns of both curves over the days both have."""
    bv = {p.day: p.value for p in b}
    both = [p for p in a if p.day in bv]
    return returns_of([p.value for p in both]), returns_of([bv[p.day] for p in both])


def _r(x: float | None) -> float | None:
    return None if x is None or not math.isfinite(x) else round(x, DIGITS) + 0.0


# --- figures -------------------------------------------------------------------------------


def performance(
    curve: Sequence[Point],
    base: Decimal | None,
    spy: Sequence[Point] | None,
    params: EvidenceParams,
) -> Performance:
    """The figures of one curve; return over `base` (the first gross equity)."""
    r = returns_of([p.value for p in curve])
    end = curve[-1].value if curve else None
    ret = float(end / base - 1) * 100.0 if end is not None and base else None
    sharpe = interval = psr0 = psr_spy = trl = trl_spy = None
    if len(r) >= params.min_days:
        sharpe = es.annual_sharpe(r)
        interval = es.sharpe_interval(
            r, samples=params.samples, seed=params.seed, level=params.level
        )
        psr0, trl = es.psr(r), es.min_track_record(r)
        bench = es.daily_sharpe(common(spy, curve)[0]) if spy else None
        if bench is not None:
            psr_spy, trl_spy = es.psr(r, bench), es.min_track_record(r, bench)
    return Performance(
        end_equity=end,
        return_pct=_r(ret),
        sharpe=_r(sharpe),
        ci95_low=_r(interval.low) if interval else None,
        ci95_high=_r(interval.high) if interval else None,
        block_length=interval.block_length if interval else None,
        psr_vs_zero=_r(psr0),
        psr_vs_spy=_r(psr_spy),
        min_track_record_days=trl,
        min_track_record_days_vs_spy=trl_spy,
    )


def status_of(days: int, gross: Performance, min_days: int = MIN_DAYS) -> Status:
    """The documented words, from the gross track record."""
    needed = gross.min_track_record_days
    if days < min_days:
        code: StatusCode = "too_early"
        text = f"too early to tell: {days} of {min_days} days"
        needed = min_days
    elif gross.sharpe is None:
        code, text = "flat", f"no Sharpe: equity unchanged over {days} days"
    elif needed is None:
        code, text = "no_edge", f"no edge shown: Sharpe not above 0 after {days} days"
    elif days < needed:
        code, text = "short", f"too early to tell: {days} of {needed} days"
    else:
        code, text = "enough", f"long enough: {days} days of {needed} needed (95 %)"
    return Status(code=code, text=text, days=days, needed_days=needed)


def account_evidence(
    account: str,
    curve: Sequence[Point],
    costs: Sequence[Point],
    spy: Sequence[Point] | None,
    params: EvidenceParams,
    pays: bool = True,
) -> AccountEvidence:
    base = curve[0].value if curve else None
    gross = performance(curve, base, spy, params)
    days = max(len(curve) - 1, 0)
    return AccountEvidence(
        account=account,
        start=curve[0].day if curve else None,
        end=curve[-1].day if curve else None,
        days=days,
        pays_llm_bill=pays,
        llm_cost_usd=cost_on(costs, curve[-1].day) if curve else Decimal(0),
        gross=gross,
        net=performance(net_of(curve, costs), base, spy, params) if costs else gross,
        status=status_of(days, gross, params.min_days),
    )


def beats(curves: Mapping[str, Sequence[Point]], params: EvidenceParams) -> Beats:
    """Who beats whom, each pair by its own paired bootstrap (same seed: order-independent)."""
    names = list(curves)
    p: list[list[float | None]] = [[None] * len(names) for _ in names]
    days = [[0] * len(names) for _ in names]
    for i, a in enumerate(names):
        for j in range(i + 1, len(names)):
            ra, rb = common(curves[a], curves[names[j]])
            days[i][j] = days[j][i] = len(ra)
            if len(ra) < params.min_days:
                continue
            found = es.beat_probability(ra, rb, params.samples, params.seed)
            if found is not None:
                p[i][j], p[j][i] = _r(found), _r(1.0 - found)
    return Beats(names=names, p=p, days=days)


def evidence_of(
    equity: Mapping[str, Sequence[Point]],
    *,
    spy: Sequence[Point] | None = None,
    costs: Mapping[str, Sequence[Point]] | None = None,
    trades: Mapping[str, Sequence[ClosedTrade]] | None = None,
    votes: Sequence[VotedTrade] | None = None,
    collaborative: str = COLLABORATIVE,
    params: EvidenceParams | None = None,
) -> Evidence:
    """The evidence of an arena or a backtest: `equity` per account (daily points), `spy` over
    the same days, `costs` the cumulative LLM cost per account (never the collaborative
    account's), `trades` the closed trades per author of the stated confidence, `votes` the
    collaborative account's closed trades with the voters who carried them."""
    params = params or EvidenceParams()
    costs = dict(costs or {})
    if costs.get(collaborative):
        raise ValueError(f"the {collaborative} account pays for nothing of its own: no cost")
    if spy and SPY in equity:
        raise ValueError(f"an account named {SPY} would hide the benchmark")
    curves = {name: _checked(equity[name], name) for name in sorted(equity)}
    bench = _checked(spy, SPY) if spy else None
    accounts = [
        account_evidence(
            name,
            curve,
            _checked(costs.get(name, []), f"{name} costs"),
            bench,
            params,
            pays=name != collaborative,
        )
        for name, curve in curves.items()
    ]
    pairs = dict(curves)
    if bench:
        pairs[SPY] = bench
    return Evidence(
        params=params,
        accounts=accounts,
        spy=performance(bench, bench[0].value, None, params) if bench else None,
        beats=beats(pairs, params),
        calibration={name: calibration(rows) for name, rows in sorted((trades or {}).items())},
        attribution=attribution(votes) if votes is not None else None,
    )
