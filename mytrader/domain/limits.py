"""The parameters the rules take: small frozen objects, built from the settings by the
application (`mytrader.app.context`), so no rule below the application reads settings.

RiskLimits: what the risk gate checks and how a BUY is priced. ProtectionRule: the
stop-loss and take-profit levels of a position (rounded to the cent) and when a price
triggers them; the vote, the gate's exits and the protective orders all use this one
rule. VoteRule: how the collaborative account weighs its agents.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from mytrader.domain.money import CENT, HUNDRED, ZERO

VoteMode = Literal["majority", "weighted"]
ExitPurpose = Literal["stop_loss", "take_profit"]


@dataclass(frozen=True)
class ProtectionRule:
    """Stop-loss STOP_LOSS_PCT below the average cost, take-profit TAKE_PROFIT_PCT above
    (0 disables one), each level rounded to the cent as the broker's order carries it."""

    stop_loss_pct: Decimal = ZERO
    take_profit_pct: Decimal = ZERO

    @property
    def active(self) -> bool:
        return bool(self.stop_loss_pct or self.take_profit_pct)

    def levels(self, avg_cost: Decimal) -> tuple[Decimal | None, Decimal | None]:
        """(take-profit limit, stop-loss stop) of a position bought at `avg_cost`, in cents."""
        tp = sl = None
        if self.take_profit_pct:
            tp = (avg_cost * (1 + self.take_profit_pct / HUNDRED)).quantize(CENT)
        if self.stop_loss_pct:
            sl = (avg_cost * (1 - self.stop_loss_pct / HUNDRED)).quantize(CENT)
        return tp, sl

    def trigger(self, avg_cost: Decimal, price: Decimal | None) -> ExitPurpose | None:
        """The exit a position bought at `avg_cost` needs at `price` (beyond a level)."""
        if price is None or not self.active:
            return None
        tp, sl = self.levels(avg_cost)
        if sl is not None and price <= sl:
            return "stop_loss"
        if tp is not None and price >= tp:
            return "take_profit"
        return None


@dataclass(frozen=True)
class RiskLimits:
    """The risk gate's limits (percentages: 0 disables a limit) and the flat fee."""

    fee_per_trade: Decimal = Decimal("1")
    buy_limit_buffer_pct: Decimal = Decimal("3")
    max_position_pct: Decimal = Decimal("25")
    daily_loss_limit_pct: Decimal = Decimal("5")
    stop_loss_pct: Decimal = Decimal("10")
    take_profit_pct: Decimal = Decimal("25")

    @property
    def protection(self) -> ProtectionRule:
        return ProtectionRule(self.stop_loss_pct, self.take_profit_pct)

    def buy_limit(self, price: Decimal) -> Decimal:
        """BUYs go out as marketable limits so the cash check holds at any fill."""
        return (price * (1 + self.buy_limit_buffer_pct / HUNDRED)).quantize(CENT)

    def worst_sell_price(self, price: Decimal) -> Decimal:
        """What the gate assumes a market SELL may fetch: the last price less the buffer."""
        return (price * (1 - self.buy_limit_buffer_pct / HUNDRED)).quantize(CENT)


@dataclass(frozen=True)
class VoteRule:
    """Majority (1 per agent) or weighted by the trailing return over `window` cycles,
    an agent clearly beating another when ahead by at least `edge_pct` points."""

    mode: VoteMode = "majority"
    window: int = 20
    edge_pct: Decimal = Decimal("1")
