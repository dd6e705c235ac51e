"""`mytrader status`: is the arena running as it should? For a person and for a monitor.

Reads, never writes and never takes the arena's lock (a scheduler may be running): the
last cycle (its heartbeat, or the `cycles` table for cycles run by a LangGraph server),
the next planned one, the broker's clock, open orders (the broker's against the `trades`
table's and the state's) and the reconcile difference. Unhealthy (exit status 1): the
last cycle failed, the books or the open orders and the broker disagree, or no cycle
started for more than three intervals while the market is open.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel, Field

from mytrader.adapters.store.db import ArenaStore
from mytrader.adapters.store.errors import StoreError
from mytrader.app.scheduler import ClockState, human, iso_utc
from mytrader.app.storage import open_store, store_config
from mytrader.config import Settings
from mytrader.domain.models import PendingOrder
from mytrader.domain.open_orders import OpenOrdersReport
from mytrader.domain.records import Heartbeat
from mytrader.domain.text import for_terminal as shown
from mytrader.graph.account_check import arena_open_orders, compare_orders
from mytrader.graph.compat import checkpoint_values
from mytrader.ports.broker import Broker, MarketClock

STALE_INTERVALS = 3

# () -> the differences between the arena's books and the broker's account, [] when
# they agree.
Reconciler = Callable[[], list[str]]
# () -> the pending orders of the thread's latest checkpoint (None: no checkpoint read).
PendingReader = Callable[[], list[PendingOrder] | None]


class Status(BaseModel):
    arena: str
    broker: str
    healthy: bool
    problems: list[str] = Field(default_factory=list)
    last_heartbeat: Heartbeat | None = None
    last_cycle: int | None = None
    last_as_of: str | None = None
    last_recorded_at: str | None = None
    interval_s: int | None = None
    next_at: str | None = None
    clock: MarketClock | None = None  # as the broker tells it
    open_orders: list[dict[str, Any]] | None = None  # None: the broker cannot list them
    # The broker's open orders against the tables' and the state's, by client order id.
    order_differences: list[str] | None = None  # None: not compared (the broker failed)
    order_notes: list[str] = Field(default_factory=list)
    reconcile: list[str] | None = None  # None: no reconcile available


def _moment(text: str | None) -> datetime | None:
    if not text:
        return None
    moment = datetime.fromisoformat(str(text).replace(" ", "T", 1))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _iso(value: datetime | None) -> str | None:
    return iso_utc(value) if value is not None else None


def assess(
    *,
    last: Heartbeat | None,
    last_activity: datetime | None,
    interval_s: int | None,
    clock: ClockState | None,
    reconcile: list[str] | None,
    now: datetime,
) -> list[str]:
    """The reasons the arena is unhealthy; [] when it is healthy."""
    problems: list[str] = []
    if last is not None and last.outcome == "failed":
        problems.append(f"last cycle ({last.cycle}) failed: {last.message or 'no message'}")
    if reconcile:
        problems.append(f"books and broker differ: {'; '.join(reconcile)}")
    if interval_s and clock is not None and clock.is_open:
        limit = timedelta(seconds=STALE_INTERVALS * interval_s)
        if last_activity is None:
            problems.append("the market is open and no cycle was ever run")
        elif now - last_activity > limit:
            problems.append(
                f"no cycle for {human((now - last_activity).total_seconds())} while the market "
                f"is open (more than {STALE_INTERVALS} intervals of {human(interval_s)})"
            )
    return problems


def gather(
    store: ArenaStore,
    broker: Broker,
    arena: str,
    *,
    interval_s: int | None = None,
    reconcile: Reconciler | None = None,
    pending: PendingReader | None = None,
    now: datetime | None = None,
) -> Status:
    now = now or datetime.now(UTC)
    beats = store.heartbeats(arena, limit=1)
    last = beats[0] if beats else None
    recorded = store.last_recorded(arena)
    interval = interval_s or (last.interval_s if last else None)

    # The arena's last now: the simulated exchange's day (a live broker's clock is now).
    as_of = recorded[1] if recorded else None
    raw: MarketClock | None = None
    problems: list[str] = []
    try:
        raw = broker.clock(as_of)
    except Exception as exc:  # a monitor must hear about an unreachable broker
        problems.append(f"broker clock unavailable: {type(exc).__name__}: {exc}")
    clock = ClockState.of(raw) if raw is not None else None

    orders = _open_orders(broker, arena, as_of, problems)
    compared = _compare_orders(store, broker, arena, as_of, pending, problems)
    differences = reconcile() if reconcile is not None else None

    activity = [m for m in (_moment(last.started_at if last else None),) if m]
    activity += [m for m in (_moment(recorded[2] if recorded else None),) if m]
    problems += assess(
        last=last,
        last_activity=max(activity) if activity else None,
        interval_s=interval,
        clock=clock,
        reconcile=differences,
        now=now,
    )
    return Status(
        arena=arena,
        broker=broker.name,
        healthy=not problems,
        problems=problems,
        last_heartbeat=last,
        last_cycle=recorded[0] if recorded else None,
        last_as_of=recorded[1] if recorded else None,
        last_recorded_at=_iso(_moment(recorded[2])) if recorded else None,
        interval_s=interval,
        next_at=_next_at(last, interval_s, clock),
        clock=raw,
        open_orders=orders,
        order_differences=list(compared.differences) if compared is not None else None,
        order_notes=list(compared.notes) if compared is not None else [],
        reconcile=differences,
    )


def _next_at(last: Heartbeat | None, every: int | None, clock: ClockState | None) -> str | None:
    """The scheduler's own plan; else, for an arena said to run `every` seconds (by an
    outside scheduler: cron, a LangGraph server), the next open or the last start + it."""
    if last is not None and last.next_at:
        return last.next_at
    if not every:
        return None
    if clock is not None and not clock.is_open and clock.next_open is not None:
        return iso_utc(clock.next_open)
    started = _moment(last.started_at) if last is not None else None
    return _iso(started + timedelta(seconds=every)) if started else None


def _open_orders(
    broker: Broker, arena: str, as_of: str | None, problems: list[str]
) -> list[dict[str, Any]] | None:
    """The arena's orders the broker still holds open (pending or partially filled)."""
    try:
        orders = arena_open_orders(broker, arena, as_of)
    except Exception as exc:
        problems.append(f"open orders unavailable: {type(exc).__name__}: {exc}")
        return None
    return [o.model_dump(mode="json") for o in orders]


def _compare_orders(
    store: ArenaStore,
    broker: Broker,
    arena: str,
    as_of: str | None,
    pending: PendingReader | None,
    problems: list[str],
) -> OpenOrdersReport | None:
    """The broker's open orders against the trades table's (and the state's, when read);
    a difference is a problem."""
    try:
        held = pending() if pending is not None else None
        report = compare_orders(broker, store, arena, as_of, held, store.last_cycle(arena))
    except StoreError:
        raise  # a damaged or lost database is the command's error (exit 3), not a finding
    except Exception as exc:  # the broker's listing failed: said once, by _open_orders
        if not any(p.startswith("open orders unavailable") for p in problems):
            problems.append(f"open orders not compared: {type(exc).__name__}: {exc}")
        return None
    if report.differences:
        first, more = report.differences[0], len(report.differences) - 1
        problems.append(
            f"open orders differ from the broker's: {first}" + (f" (+{more} more)" if more else "")
        )
    return report


def lines(status: Status) -> list[str]:
    """The report for a person, as rich markup lines (outside text shown as text)."""
    verdict = "[green]healthy[/green]" if status.healthy else "[red bold]UNHEALTHY[/red bold]"
    out = [f"arena '{shown(status.arena)}' on {shown(status.broker)}: {verdict}"]
    beat = status.last_heartbeat
    if beat is not None:
        took = f", took {human(beat.duration_ms / 1000)}" if beat.duration_ms is not None else ""
        what = {"running": "running (or interrupted: the next start resumes it)"}.get(
            beat.outcome, beat.outcome
        )
        out.append(f"last cycle    {beat.cycle}: {shown(what)}, started {beat.started_at}{took}")
        if beat.message:
            out.append(f"              {shown(beat.message)}")
    if status.last_cycle is not None:
        out.append(
            f"last recorded cycle {status.last_cycle} (as of {shown(status.last_as_of)}) at "
            f"{status.last_recorded_at}"
        )
    if beat is None and status.last_cycle is None:
        out.append("last cycle    none yet")
    every = f" (every {human(status.interval_s)})" if status.interval_s else ""
    out.append(f"next cycle    {status.next_at or 'not scheduled (one-shot runs)'}{every}")
    if status.clock is not None:
        c = status.clock
        state = "open" if c.is_open else "closed"
        out.append(
            f"clock         {c.timestamp} {state}; next open {c.next_open or '-'}, "
            f"next close {c.next_close or '-'}"
        )
    if status.open_orders is None:
        out.append("open orders   not available from this broker")
    elif not status.open_orders:
        out.append("open orders   none")
    else:
        out.append(f"open orders   {len(status.open_orders)}")
        for o in status.open_orders:
            out.append(
                shown(
                    f"  {o.get('client_order_id')}: {o.get('side')} {o.get('qty')} "
                    f"{o.get('symbol')} {o.get('type', '')} {o.get('status')}"
                )
            )
    if status.order_differences is not None:
        agree = "the tables' open orders are the broker's"
        out.append(
            f"orders        {agree if not status.order_differences else '[red]differ:[/red]'}"
        )
        out += [f"  {shown(d)}" for d in status.order_differences]
        out += [f"  note: {shown(n)}" for n in status.order_notes]
    if status.reconcile is None:
        out.append("reconcile     no broker account (the simulated exchange has only the books)")
    elif not status.reconcile:
        out.append("reconcile     books and broker agree")
    else:
        out.append("reconcile     [red]differences:[/red]")
        out += [f"  {shown(d)}" for d in status.reconcile]
    out += [f"[red]problem: {shown(p)}[/red]" for p in status.problems]
    return out


def find_reconciler(
    settings: Settings, store: ArenaStore, broker: Broker, arena: str
) -> Reconciler | None:
    """The reconcile of `mytrader reconcile` (books vs the broker's account), read from the
    thread's latest checkpoint *without* the arena lock (a scheduler may hold it): the
    differences ([] when they agree). None for the simulated exchange: it keeps no account
    apart from the books. `gather` turns any difference into an unhealthy status.
    """
    from mytrader.app import reconcile
    from mytrader.graph import account_check as check

    if not check.has_account(broker):
        return None

    def differences() -> list[str]:
        values = latest_values(settings, arena)
        books = reconcile.books_of(values)
        if not books or values.get(check.BASE_KEY) is None:
            return []  # no live cycle yet: nothing to compare
        base = check.Base.model_validate(values[check.BASE_KEY])
        pending = reconcile.pending_of(values)
        return check.compare(broker, books, base, pending).differences  # type: ignore[arg-type]

    return differences


def latest_values(settings: Settings, arena: str) -> dict[str, Any]:
    """The thread's latest checkpointed state, read without the arena lock ({}: none)."""
    from mytrader.adapters.store.checkpointer import open_checkpointer

    config: Any = {"configurable": {"thread_id": arena, "checkpoint_ns": ""}}
    with open_checkpointer(store_config(settings)) as saver:
        found = saver.get_tuple(config)
    return checkpoint_values(found)


def pending_reader(settings: Settings, arena: str) -> PendingReader:
    """The state's pending orders, for the open-order comparison (None: no checkpoint)."""
    from mytrader.app import reconcile

    def pending() -> list[PendingOrder] | None:
        values = latest_values(settings, arena)
        return reconcile.pending_of(values) if values else None

    return pending


def run_status(settings: Settings, every: str | None, as_json: bool, console: Any) -> int:
    """The `mytrader status` command body: prints the report, returns the exit status."""
    import sys

    from mytrader.app.scheduler import parse_interval
    from mytrader.app.services import open_broker

    interval = round(parse_interval(every)) if every else None
    with open_store(settings) as store:
        broker = open_broker(settings, store)
        report = gather(
            store,
            broker,
            settings.arena_id,
            interval_s=interval,
            reconcile=find_reconciler(settings, store, broker, settings.arena_id),
            pending=pending_reader(settings, settings.arena_id),
        )
    if as_json:
        sys.stdout.write(report.model_dump_json(indent=2) + "\n")
    else:
        for line in lines(report):
            console.print(line, highlight=False)
    return 0 if report.healthy else 1
