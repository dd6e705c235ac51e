"""Typed models at the edges of the graph: decisions, market view, orders, votes.

The graph state holds these as JSON-able dicts (`model_dump(mode="json")`) so a checkpoint
needs no custom serializer; nodes validate them back with `Model.model_validate`.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from mytrader.domain.text import for_storage

# The account that trades what the agents agree on by vote (beside one per persona).
COLLABORATIVE = "collaborative"

Action = Literal["BUY", "SELL", "HOLD"]
Side = Literal["buy", "sell"]

# The most shares one decision may name: far above any book this arena can hold (a
# billion shares at a cent is $10M), far below every integer limit downstream (msgpack in
# checkpoints, BIGINT columns), so a model's 1e308 is a parse error, never a crash.
MAX_QUANTITY = 1_000_000_000

# Text from outside (a model's reasoning, a provider's or broker's error): kept without
# escape sequences or control characters wherever the state, a checkpoint or a table
# holds it; also inside JSON, which would bring them back as `\u001b` when read.
OutsideText = Annotated[str, AfterValidator(for_storage)]


class Decision(BaseModel):
    """What a model proposes. Code sizes, checks and books it."""

    model_config = ConfigDict(extra="ignore")

    decision: Action
    symbol: str | None = None
    quantity: int = Field(default=0, ge=0, le=MAX_QUANTITY)
    reasoning: OutsideText = ""
    confidence: int = Field(default=0, ge=0, le=100)

    @classmethod
    def hold(cls, reasoning: str) -> Decision:
        return cls(decision="HOLD", symbol=None, quantity=0, reasoning=reasoning, confidence=0)


class Stance(BaseModel):
    """An agent's view of one shortlisted symbol: what the ensemble should do with it."""

    model_config = ConfigDict(frozen=True)

    stance: Action
    conviction: int = Field(default=0, ge=0, le=100)


class AgentDecision(BaseModel):
    """A decision as recorded for one agent in one cycle (with how it was obtained)."""

    agent: str
    decision: Decision
    # symbol -> stance on every symbol of the cycle's shortlist (the vote aggregates them)
    stances: dict[str, Stance] = Field(default_factory=dict)
    error: OutsideText | None = None  # why the model's answer was turned into a HOLD
    model: str = ""
    raw: str = ""  # the model's final answer text, for agent_logs (THOUGHT)


class SymbolView(BaseModel):
    """One symbol as seen at the simulated (or real) now. Indicators are computed in code."""

    symbol: str
    sector: str = "other"
    price: Decimal  # last close at `as_of`
    change_pct: float  # vs the previous close
    volume: int
    rsi14: float | None = None
    macd: float | None = None
    macd_signal: float | None = None
    macd_hist: float | None = None
    macd_hist_prev: float | None = None
    bb_upper: float | None = None
    bb_mid: float | None = None
    bb_lower: float | None = None
    sma20: float | None = None
    sma50: float | None = None
    ret_5d_pct: float | None = None
    ret_20d_pct: float | None = None
    volatility_20d_pct: float | None = None  # stdev of daily returns, in percent
    high_lookback: float | None = None  # highest close of the lookback window
    drawdown_pct: float | None = None  # from high_lookback to price, negative or 0


class Mover(BaseModel):
    symbol: str
    price: Decimal
    change_pct: float
    volume: int


class Movers(BaseModel):
    gainers: list[Mover] = Field(default_factory=list)
    losers: list[Mover] = Field(default_factory=list)
    most_active: list[Mover] = Field(default_factory=list)


class Benchmark(BaseModel):
    symbol: str
    price: Decimal


class MarketView(BaseModel):
    """What every agent is shown in one cycle: nothing in it comes from after `as_of`."""

    as_of: str  # ISO date (offline) or timestamp (live)
    movers: Movers
    symbols: dict[str, SymbolView]
    benchmark: Benchmark | None = None  # e.g. SPY's close at as_of, for the leaderboard

    def price(self, symbol: str) -> Decimal | None:
        view = self.symbols.get(symbol)
        return view.price if view else None


OrderType = Literal["market", "limit", "stop"]
OrderClass = Literal["simple", "oco"]
TimeInForce = Literal["day", "gtc"]
# Why a leg exists: part of its client order id, so a resumed cycle matches it by content.
Purpose = Literal["decision", "stop_loss", "take_profit", "protect"]


class OrderRequest(BaseModel):
    """An order as the executor sends it. An OCO is one order: a sell with a take-profit
    `limit_price` and a stop-loss `stop_price`; whichever triggers first fills it."""

    model_config = ConfigDict(frozen=True)  # ledgers share it without copying

    client_order_id: str
    account: str
    symbol: str
    side: Side
    qty: int = Field(gt=0)
    type: OrderType = "market"
    limit_price: Decimal | None = None  # BUYs are marketable limits, so cash checks hold
    stop_price: Decimal | None = None
    time_in_force: TimeInForce = "day"
    order_class: OrderClass = "simple"
    purpose: Purpose = "decision"
    as_of: str  # the decision's now: a simulated fill happens strictly after it


# pending: at the broker, not (fully) filled yet; booked when the broker reports fills.
# refused: stopped by the risk gate, never sent. rejected: the broker (or a mismatch) said no.
OrderStatus = Literal[
    "pending", "partially_filled", "filled", "refused", "rejected", "expired", "canceled"
]
OPEN_STATUSES: frozenset[str] = frozenset({"pending", "partially_filled"})
# The fields an OrderResult copies from its OrderRequest.
_REQUEST_FIELDS = {
    "client_order_id",
    "account",
    "symbol",
    "side",
    "qty",
    "type",
    "order_class",
    "purpose",
    "limit_price",
    "stop_price",
}


class OrderResult(BaseModel):
    """One leg of the executor: refused by the risk gate, or what the broker did with it."""

    model_config = ConfigDict(frozen=True)  # changed by model_copy(update=...) only

    client_order_id: str
    account: str
    symbol: str
    side: Side
    qty: int
    status: OrderStatus
    reason: OutsideText = ""
    type: OrderType = "market"
    order_class: OrderClass = "simple"
    purpose: Purpose = "decision"
    limit_price: Decimal | None = None
    stop_price: Decimal | None = None
    broker_order_id: str | None = None
    filled_qty: int = 0
    filled_avg_price: Decimal | None = None
    filled_at: str | None = None
    fee: Decimal = Decimal("0")
    realized_pnl: Decimal | None = None  # for sells, set when booked

    @classmethod
    def of(
        cls, order: OrderRequest, status: OrderStatus, reason: str = "", **fills: Any
    ) -> OrderResult:
        """What became of `order`: its own fields, a status, and any fill fields."""
        fields = order.model_dump(include=_REQUEST_FIELDS)
        return cls(**fields, status=status, reason=reason, **fills)

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    def same_order(self, request: OrderRequest) -> bool:
        """Whether this stored order is the order `request` describes (adoption rule)."""
        return (self.symbol, self.side, self.qty, self.type, self.order_class) == (
            request.symbol,
            request.side,
            request.qty,
            request.type,
            request.order_class,
        )


class PendingOrder(BaseModel):
    """An order at the broker that is not fully booked yet, kept in the graph state."""

    order: OrderResult
    cycle: int  # placed in this cycle
    as_of: str
    booked_qty: int = 0
    booked_notional: Decimal = Decimal("0")


class VoteResult(BaseModel):
    mode: Literal["majority", "weighted"]
    decision: Decision
    weights: dict[str, int]  # integers: a tie is an exact tie
    tally: dict[str, int]  # "BUY AAPL" / "SELL MRNA" -> weight of the agents taking that stance
    total: int = 0  # all agents' weight; an option wins with strictly more than half
    returns: dict[str, str] = Field(default_factory=dict)  # trailing return % (weighted mode)
    agreeing: list[str] = Field(default_factory=list)
    # the agreeing agents' conviction on the winning option: who carried the vote, and
    # how strongly (the attribution of the collaborative P&L reads it with `weights`)
    convictions: dict[str, int] = Field(default_factory=dict)
    reason: str = ""


class CritiqueNote(BaseModel):
    """An agent's last self-critique; it feeds that agent's next prompts."""

    text: OutsideText
    cycle: int
    trades_at: int  # the agent's trade count when it was written
