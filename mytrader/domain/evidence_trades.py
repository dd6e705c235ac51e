"""What stated confidence is worth (calibration), and who carried the collaborative vote
(attribution of its realized P&L). Pure; money in Decimal, statistics in float64.

Calibration. A closed trade's stated confidence c (0-100; a persona's "confidence", or the
vote's conviction) is read as the probability c / 100 that the trade wins.

- Brier score: mean of (c / 100 - won)^2; 0 is perfect, 0.25 is a constant 50 %. Beside it the
  Brier score of always stating the observed win rate w, w (1 - w): a stated confidence is
  worth something only when its Brier score is below that one.
- Reliability table: five bands of stated confidence, [0, 20), [20, 40), [40, 60), [60, 80),
  [80, 100] (100 falls in the last); per band the trades, the mean stated probability, the
  observed win rate and the summed realized P&L of the trades that give one. Empty bands are
  kept (None figures), so the table always has the same shape.
- Confidence-weighted hit rate: sum(c * won) / sum(c), the share of the stated confidence
  that went to winning trades (None when every confidence is 0).

Attribution. A collaborative trade names the voters whose stance carried the vote, each with
its weight and conviction; its realized P&L is split pro rata to weight x conviction (all
equal when every product is 0). The rule, exact in Decimal:

1. the unit is a cent, or the P&L's own last digit when finer (so a P&L of 1.005 is split in
   thousandths);
2. each voter gets its exact share truncated toward zero to the unit;
3. the units left over (fewer than the number of voters, the sign of the P&L) go one each to
   the voters in order of largest weight x conviction, ties alphabetical by persona.

So the parts sum exactly to the P&L, and each is within one unit of its exact pro-rata share.
A trade with no voter named stays "unattributed".
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from decimal import ROUND_DOWN, Decimal, localcontext

from pydantic import BaseModel, Field, field_validator

from mytrader.domain.money import CENT

BANDS: tuple[tuple[int, int], ...] = ((0, 20), (20, 40), (40, 60), (60, 80), (80, 100))

DIGITS = 6  # floats rounded: stable JSON


class ClosedTrade(BaseModel):
    """A closed trade as its author stated it: confidence 0-100 and whether it won."""

    confidence: int = Field(ge=0, le=100)
    won: bool
    pnl: Decimal | None = None  # realized P&L, when known


class Band(BaseModel):
    low: int  # stated confidence, inclusive
    high: int  # exclusive, except 100 in the last band
    trades: int
    mean_stated: float | None  # probability, 0-1
    win_rate: float | None  # observed, 0-1
    pnl: Decimal | None  # summed realized P&L of the band's trades that give one


class Calibration(BaseModel):
    trades: int
    brier: float | None
    brier_of_base_rate: float | None  # always stating the observed win rate
    mean_stated: float | None
    win_rate: float | None
    weighted_hit_rate: float | None
    bands: list[Band]


def _band_of(confidence: int) -> int:
    return min(confidence // 20, len(BANDS) - 1)


def _mean(values: Sequence[float]) -> float | None:
    return _r(sum(values) / len(values)) if values else None


def _r(x: float) -> float:
    return round(x, DIGITS) + 0.0


def calibration(trades: Iterable[ClosedTrade]) -> Calibration:
    rows = list(trades)
    stated = [t.confidence / 100.0 for t in rows]
    won = [1.0 if t.won else 0.0 for t in rows]
    rate = _mean(won)
    bands = []
    for i, (low, high) in enumerate(BANDS):
        inside = [t for t in rows if _band_of(t.confidence) == i]
        pnls = [t.pnl for t in inside if t.pnl is not None]
        bands.append(
            Band(
                low=low,
                high=high,
                trades=len(inside),
                mean_stated=_mean([t.confidence / 100.0 for t in inside]),
                win_rate=_mean([1.0 if t.won else 0.0 for t in inside]),
                pnl=sum(pnls, Decimal(0)) if pnls else None,
            )
        )
    weight = sum(t.confidence for t in rows)
    return Calibration(
        trades=len(rows),
        brier=_mean([(p - w) ** 2 for p, w in zip(stated, won, strict=True)]),
        brier_of_base_rate=None if rate is None else _r(rate * (1.0 - rate)),
        mean_stated=_mean(stated),
        win_rate=rate,
        weighted_hit_rate=_r(sum(t.confidence for t in rows if t.won) / weight) if weight else None,
        bands=bands,
    )


# --- attribution of the collaborative account -------------------------------------------------


class Voter(BaseModel):
    persona: str
    weight: Decimal = Field(ge=0)
    conviction: Decimal = Field(ge=0)  # 0-100, as the stance stated it


class VotedTrade(BaseModel):
    """One closed trade of the collaborative account and the voters who carried its vote."""

    ref: str = ""  # what the trade is (order id, symbol and date): shown, not used
    pnl: Decimal
    voters: list[Voter] = Field(default_factory=list)

    @field_validator("voters")
    @classmethod
    def _one_vote_each(cls, voters: list[Voter]) -> list[Voter]:
        names = [v.persona for v in voters]
        if len(set(names)) != len(names):
            raise ValueError(f"a persona votes once per trade: {sorted(names)}")
        return voters


class TradeAttribution(BaseModel):
    ref: str
    pnl: Decimal
    parts: dict[str, Decimal]  # persona -> its part; sums exactly to pnl


class Attribution(BaseModel):
    total_pnl: Decimal
    by_persona: dict[str, Decimal]  # alphabetical
    unattributed: Decimal  # P&L of trades that named no voter
    trades: list[TradeAttribution]


def split_pnl(pnl: Decimal, voters: Sequence[Voter]) -> dict[str, Decimal]:
    """The documented rule: pro rata to weight x conviction, truncated to the unit, leftover
    units one each by largest share, then alphabetical. Keys alphabetical."""
    if not voters:
        return {}
    exponent = pnl.as_tuple().exponent
    unit = min(CENT, Decimal(1).scaleb(exponent)) if isinstance(exponent, int) else CENT
    shares = {v.persona: v.weight * v.conviction for v in voters}
    if not any(shares.values()):
        shares = dict.fromkeys(shares, Decimal(1))
    total = sum(shares.values(), Decimal(0))
    with localcontext() as ctx:
        ctx.prec = 60
        parts = {
            name: (pnl * share / total).quantize(unit, rounding=ROUND_DOWN)
            for name, share in shares.items()
        }
    left = pnl - sum(parts.values(), Decimal(0))
    step = unit if left > 0 else -unit
    order = sorted(shares, key=lambda name: (-shares[name], name))
    i = 0
    while left != 0:
        parts[order[i % len(order)]] += step
        left -= step
        i += 1
    return dict(sorted(parts.items()))


def attribution(trades: Iterable[VotedTrade]) -> Attribution:
    rows = []
    by_persona: dict[str, Decimal] = {}
    unattributed = Decimal(0)
    total = Decimal(0)
    for trade in trades:
        total += trade.pnl
        parts = split_pnl(trade.pnl, trade.voters)
        if not parts:
            unattributed += trade.pnl
        for name, part in parts.items():
            by_persona[name] = by_persona.get(name, Decimal(0)) + part
        rows.append(TradeAttribution(ref=trade.ref, pnl=trade.pnl, parts=parts))
    return Attribution(
        total_pnl=total,
        by_persona=dict(sorted(by_persona.items())),
        unattributed=unattributed,
        trades=rows,
    )
