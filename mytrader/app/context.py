"""The run's knobs from the settings: the one place Settings become the graph's context
(and, through it, the rules' parameter objects: RiskLimits, ProtectionRule, VoteRule)."""

from __future__ import annotations

from mytrader.app.models import model_id, provider_name
from mytrader.config import Settings
from mytrader.domain.limits import RiskLimits
from mytrader.graph.context import ArenaContext


def broker_accounts(settings: Settings) -> tuple[tuple[str, ...], ...]:
    """The books of each broker account, in the settings' order: live, a book with keys of
    its own trades its own paper account; every other book (and every book offline, where
    the simulated exchange is one account) trades the main one."""
    own = set(settings.account_keys()) if settings.broker_kind == "alpaca" else set()
    main = tuple(a for a in settings.accounts if a not in own)
    return tuple(([main] if main else []) + [(a,) for a in settings.accounts if a in own])


def arena_context(settings: Settings) -> ArenaContext:
    personas = settings.personas
    return ArenaContext(
        arena_id=settings.arena_id,
        personas=personas,
        model_ids={p: model_id(settings, p) for p in personas},
        providers={p: provider_name(settings, p) for p in personas},
        house_personas=tuple(p for p in personas if settings.llm_kind(p) == "house"),
        llm_daily_budget_usd=settings.llm_daily_budget_usd,
        personas_dir=None if settings.personas_dir is None else str(settings.personas_dir),
        max_tool_rounds=settings.max_tool_rounds,
        critique_interval=settings.critique_interval,
        vote_mode=settings.vote_mode,
        vote_window=settings.vote_window,
        vote_edge_pct=settings.vote_edge_pct,
        starting_cash=settings.starting_cash,
        fee_per_trade=settings.fee_per_trade,
        buy_limit_buffer_pct=settings.buy_limit_buffer_pct,
        max_position_pct=settings.max_position_pct,
        daily_loss_limit_pct=settings.daily_loss_limit_pct,
        stop_loss_pct=settings.stop_loss_pct,
        take_profit_pct=settings.take_profit_pct,
        movers_top=settings.movers_top,
        watchlist_symbols=tuple(settings.watchlist_symbols),
        benchmark_symbol=settings.benchmark_symbol,
        order_manager=settings.order_manager,
        fill_wait_s=settings.fill_wait_s,
        broker_accounts=broker_accounts(settings),
    )


def risk_limits(settings: Settings) -> RiskLimits:
    """The risk gate's limits of `settings` (those of its context)."""
    return arena_context(settings).limits
