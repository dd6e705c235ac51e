"""Runs the arena unattended: one cycle per interval while the broker's market is open.

A plain loop rather than APScheduler (see README, *Running unattended*): the market
gate comes from the broker's clock (its calendar knows holidays and early closes), a
cycle runs in the main thread so a signal can let it finish, and time is injected
(`monotonic`, `sleep`, `clock`) so a test drives the loop with a fake clock.

Time has two sources: the interval grid is kept on a monotonic clock (a wall-clock
jump never doubles or drops a cycle); whether the market is open and when it opens
next come from the broker.
"""

from __future__ import annotations

import logging
import math
import os
import re
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import FrameType
from typing import TYPE_CHECKING

from mytrader.domain.text import for_terminal as shown
from mytrader.ports.broker import Broker, MarketClock

if TYPE_CHECKING:  # the graph stack is imported only when the command runs
    from rich.console import Console

    from mytrader.app.runner import Arena, CycleSummary
    from mytrader.config import Settings

log = logging.getLogger(__name__)

_INTERVAL = re.compile(r"^\s*(\d+)\s*(s|m|h)\s*$")
_UNIT_S = {"s": 1, "m": 60, "h": 3600}
MAX_CLOSED_WAIT_S = 3600.0  # a closed market is looked at again at least hourly


@dataclass(frozen=True)
class ClockState:
    """The broker's `MarketClock` with its times parsed (a date is its midnight UTC)."""

    timestamp: datetime
    is_open: bool
    next_open: datetime | None = None
    next_close: datetime | None = None

    @classmethod
    def of(cls, clock: MarketClock) -> ClockState:
        return cls(
            timestamp=_moment(clock.timestamp) or datetime.now(UTC),
            is_open=clock.is_open,
            next_open=_moment(clock.next_open),
            next_close=_moment(clock.next_close),
        )


def _moment(text: str | None) -> datetime | None:
    if not text:
        return None
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def parse_interval(text: str) -> float:
    """`1s`, `2s`, `15m`, `1h` -> seconds. ValueError names the option and the forms."""
    match = _INTERVAL.match(text or "")
    if not match or int(match.group(1)) == 0:
        raise ValueError(
            f"--every must be a positive number of s, m or h (1s, 15m, 1h), not {text!r}"
        )
    return float(int(match.group(1)) * _UNIT_S[match.group(2)])


def iso_utc(moment: datetime) -> str:
    """`2026-01-02T14:30:00.000Z`: how the heartbeats table writes times."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def human(seconds: float) -> str:
    """A short duration for a person: 45s, 15m, 16h 30m, 2d 3h."""
    if 0 < seconds < 1:
        return f"{seconds:.2f}s"
    s = max(0, round(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m" + (f" {s % 60}s" if s % 60 and s < 600 else "")
    if s < 86400:
        return f"{s // 3600}h" + (f" {s % 3600 // 60}m" if s % 3600 // 60 else "")
    return f"{s // 86400}d" + (f" {s % 86400 // 3600}h" if s % 86400 // 3600 else "")


@dataclass
class Tick:
    """What the loop did, for callers that report it (the CLI prints, tests collect)."""

    kind: str  # "cycle" | "closed" | "skipped" | "failed" | "stopped"
    message: str
    next_at: datetime | None = None  # wall-clock time of the next planned cycle


class Scheduler:
    """One cycle per `interval_s` while `clock().is_open`; never two cycles at once.

    `run_cycle` runs one cycle and returns False to stop (market history exhausted).
    The grid: cycle k is due at start + k * interval (monotonic). A cycle that overruns
    drops the slots it covered (they are logged as skipped) and the next one starts at
    the first slot after it: cycles are never stacked or run back to back to catch up.
    """

    def __init__(
        self,
        interval_s: float,
        run_cycle: Callable[[], bool],
        clock: Callable[[], ClockState],
        *,
        report: Callable[[Tick], None] = lambda tick: None,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] | None = None,
        wall: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        if interval_s <= 0:
            raise ValueError("interval must be more than 0 seconds")
        self.interval_s = interval_s
        self._run_cycle = run_cycle
        self._clock = clock
        self._report = report
        self._monotonic = monotonic
        self._stop = threading.Event()
        # The real sleep wakes up as soon as stop() is called (a signal handler).
        self._sleep = sleep or (lambda seconds: self._stop.wait(seconds) and None)
        self._wall = wall
        self.cycles = 0

    def stop(self) -> None:
        """Finish the cycle in progress (if any), then leave `run`."""
        self._stop.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def _say(self, kind: str, message: str, next_at: datetime | None = None) -> None:
        log.info(message)
        self._report(Tick(kind, message, next_at))

    def _wall_in(self, seconds: float) -> datetime:
        return self._wall() + timedelta(seconds=max(0.0, seconds))

    def run(self, max_cycles: int | None = None) -> int:
        """Loop until stopped, `max_cycles` ran, or `run_cycle` says stop. Returns cycles run."""
        due = self._monotonic()
        while not self.stopping and (max_cycles is None or self.cycles < max_cycles):
            reading = self._clock()
            if not reading.is_open:
                self._wait_for_open(reading)
                due = self._monotonic()  # a new session starts a new grid
                continue
            early = due - self._monotonic()
            if early > 0:
                self._sleep(early)
                continue  # look at the stop flag and the clock again before starting
            started = self._monotonic()
            keep_going = self._one_cycle()
            self.cycles += 1
            if not keep_going:
                break
            ended = self._monotonic()
            # Slots that came due while this cycle ran are dropped, not stacked.
            passed = math.floor((ended - due) / self.interval_s)
            if passed >= 1:
                self._say(
                    "skipped",
                    f"cycle took {human(ended - started)}, longer than the "
                    f"{human(self.interval_s)} interval: {passed} run(s) skipped, "
                    "the next starts at the next slot",
                )
            due += (passed + 1) * self.interval_s
            done = max_cycles is not None and self.cycles >= max_cycles
            if not (self.stopping or done):
                nxt = self._wall_in(due - self._monotonic())
                self._say("scheduled", f"next cycle at {nxt:%Y-%m-%d %H:%M:%S} UTC", nxt)
        if self.stopping:
            self._say("stopped", f"stopped after {self.cycles} cycle(s)")
        return self.cycles

    def _one_cycle(self) -> bool:
        try:
            return self._run_cycle()
        except Exception as exc:  # unattended: a failed cycle is recorded, the loop goes on
            log.exception("cycle failed")
            self._say(
                "failed",
                f"cycle failed: {type(exc).__name__}: {exc} "
                "(the next cycle resumes it from its checkpoint)",
            )
            return True

    def _wait_for_open(self, reading: ClockState) -> None:
        now = reading.timestamp
        opens = reading.next_open
        until_open = MAX_CLOSED_WAIT_S if opens is None else (opens - now).total_seconds()
        # At least a second (no busy loop on a clock that is a bit early), at most an
        # hour (the calendar may change: an added holiday or a halted session).
        wait = min(max(until_open, 1.0), MAX_CLOSED_WAIT_S)
        what = (
            f"market closed at {now.isoformat()}: waiting for the next open at "
            f"{opens.isoformat()} (in {human(until_open)})"
            if opens is not None
            else "market closed, no next open known"
        )
        if wait < until_open or opens is None:
            what += f"; looking at the clock again in {human(wait)}"
        self._say("closed", what, self._wall_in(wait))
        self._sleep(wait)


# --- the `mytrader run --every` command body ------------------------------------------


def broker_clock(broker: Broker, as_of: str | None = None) -> ClockState:
    """The broker's market clock (holidays and early closes are the broker's business)."""
    return ClockState.of(broker.clock(as_of))


def stop_on_signals(scheduler: Scheduler) -> Callable[[], None]:
    """SIGTERM/SIGINT: the first lets the cycle in progress finish and be recorded; a
    second one stops at once (the next start resumes the cycle from its checkpoint).
    Returns a function that restores the previous handlers."""
    received = 0

    def handler(signum: int, frame: FrameType | None) -> None:
        nonlocal received
        received += 1
        name = signal.Signals(signum).name
        if received == 1:
            scheduler.stop()
            _write_stderr(
                f"{name}: finishing the cycle in progress, then stopping "
                "(send it again to stop at once)\n"
            )
            return
        _write_stderr(f"{name} again: stopping now; the next start resumes the cycle\n")
        os._exit(128 + signum)  # at once: no cleanup, like a kill; the checkpoint holds

    previous = {s: signal.signal(s, handler) for s in (signal.SIGTERM, signal.SIGINT)}

    def restore() -> None:
        for sig, old in previous.items():
            signal.signal(sig, old)

    return restore


def _write_stderr(text: str) -> None:
    # os.write, not print: a signal handler may interrupt a print in progress.
    os.write(sys.stderr.fileno(), text.encode())


def run_every(
    settings: Settings,
    interval_s: float,
    *,
    max_cycles: int | None,
    quiet: bool,
    console: Console,
    show_cycle: Callable[[CycleSummary], None],
    finish: Callable[[Arena], None],
) -> None:
    """Run the arena on the schedule until stopped, then `finish` (the leaderboard)."""
    from mytrader.adapters.store.db import StoreError
    from mytrader.app.runner import open_arena

    with open_arena(settings) as arena:
        arena.check_history()  # refused once, before the loop (which goes on after failures)
        from mytrader.app.reconcile import describe

        arena.check_halves()  # refused here, not retried every interval by the loop
        console.print(f"[dim]trading on: {shown(describe(arena.services.broker))}[/dim]")
        arena.interval_s = round(interval_s)
        store = arena.services.store

        def one_cycle() -> bool:
            if not quiet:
                console.print(f"[dim]cycle starting at {datetime.now(UTC):%H:%M:%S} UTC[/dim]")
            summary = arena.run_cycle()
            if summary.status == "exhausted":
                console.print(f"[yellow]{shown(summary.message)}[/yellow]")
                return False
            show_cycle(summary)
            arena.prune()  # history lives in the tables; the thread keeps its last state
            return True

        def report(tick: Tick) -> None:
            if tick.kind in ("closed", "skipped", "failed", "stopped") or not quiet:
                style = {"skipped": "yellow", "failed": "red"}.get(tick.kind, "dim")
                console.print(f"[{style}]{shown(tick.message)}[/{style}]")
            if tick.next_at is not None or tick.kind == "stopped":
                try:  # a stopped scheduler plans nothing: status says "not scheduled"
                    at = iso_utc(tick.next_at) if tick.next_at is not None else None
                    store.beat_next(arena.thread_id, at)
                except StoreError as exc:  # only `status` reads it: not worth stopping for
                    log.warning("could not record the next cycle's time: %s", exc)

        scheduler = Scheduler(
            interval_s, one_cycle, lambda: broker_clock(arena.services.broker), report=report
        )
        console.print(
            f"running arena '{shown(settings.arena_id)}' every {human(interval_s)} while the "
            f"market is open ({arena.services.broker.name}); Ctrl-C or SIGTERM stops "
            "after the cycle in progress"
        )
        restore = stop_on_signals(scheduler)
        try:
            scheduler.run(max_cycles)
        finally:
            restore()
        finish(arena)
