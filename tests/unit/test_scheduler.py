"""The scheduler's loop on a fake clock: no cycle while closed (and the wait is said),
one cycle per interval while open, an overrunning cycle never stacked."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest

from mytrader.app.scheduler import ClockState, Scheduler, Tick, human, parse_interval

T0 = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)


@dataclass
class Market:
    """A broker clock on fake time: open from `opens_at` (seconds) to `closes_at`."""

    time: FakeTime
    opens_at: float = 0.0
    closes_at: float = 10**9

    def _next_open(self) -> float:
        # Before the open: today's open; after the close: tomorrow's (a day later).
        return self.opens_at if self.time.t < self.opens_at else self.opens_at + 86400

    def __call__(self) -> ClockState:
        now = T0 + timedelta(seconds=self.time.t)
        is_open = self.opens_at <= self.time.t < self.closes_at
        return ClockState(
            timestamp=now,
            is_open=is_open,
            next_open=None if is_open else T0 + timedelta(seconds=self._next_open()),
            next_close=T0 + timedelta(seconds=self.closes_at),
        )


@dataclass
class FakeTime:
    t: float = 0.0
    sleeps: list[float] = field(default_factory=list)
    stop_after: float = float("inf")  # fake seconds; then the scheduler is told to stop
    scheduler: Scheduler | None = None

    def monotonic(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.t += seconds
        if self.t >= self.stop_after and self.scheduler:
            self.scheduler.stop()


@dataclass
class Cycles:
    """run_cycle stand-in: each cycle takes `durations[i]` fake seconds (default 5)."""

    time: FakeTime
    durations: dict[int, float] = field(default_factory=dict)
    spans: list[tuple[float, float]] = field(default_factory=list)

    def __call__(self) -> bool:
        start = self.time.t
        self.time.t += self.durations.get(len(self.spans), 5.0)
        self.spans.append((start, self.time.t))
        return True


def make(interval: float, market_kw: dict | None = None, durations: dict | None = None):
    time = FakeTime()
    cycles = Cycles(time, durations or {})
    ticks: list[Tick] = []
    scheduler = Scheduler(
        interval,
        cycles,
        Market(time, **(market_kw or {})),
        report=ticks.append,
        monotonic=time.monotonic,
        sleep=time.sleep,
        wall=lambda: T0 + timedelta(seconds=time.t),
    )
    time.scheduler = scheduler
    return scheduler, time, cycles, ticks


def test_closed_market_runs_no_cycle_and_says_what_it_waits_for():
    scheduler, time, cycles, ticks = make(900, {"opens_at": 1800})
    time.stop_after = 1  # stop during the first wait
    assert scheduler.run() == 0
    assert cycles.spans == []
    assert time.sleeps == [1800]  # slept until the open, not in small polls
    closed = [t for t in ticks if t.kind == "closed"]
    assert len(closed) == 1
    assert "waiting for the next open at 2026-03-02T14:30:00+00:00" in closed[0].message
    assert "in 30m" in closed[0].message
    assert closed[0].next_at == T0 + timedelta(seconds=1800)


def test_a_long_closure_is_looked_at_again_hourly():
    scheduler, time, cycles, ticks = make(900, {"opens_at": 16.5 * 3600})
    time.stop_after = 1
    scheduler.run()
    assert time.sleeps == [3600]
    assert "in 16h 30m" in ticks[0].message and "again in 1h" in ticks[0].message


def test_open_market_runs_one_cycle_per_interval():
    scheduler, time, cycles, ticks = make(900)
    assert scheduler.run(max_cycles=4) == 4
    assert [s for s, _ in cycles.spans] == [0, 900, 1800, 2700]
    assert not [t for t in ticks if t.kind == "skipped"]
    nexts = [t.next_at for t in ticks if t.kind == "scheduled"]
    assert nexts == [T0 + timedelta(seconds=s) for s in (900, 1800, 2700)]


def test_cycles_start_at_the_open_then_follow_the_interval():
    scheduler, time, cycles, ticks = make(900, {"opens_at": 600})
    scheduler.run(max_cycles=3)
    assert [s for s, _ in cycles.spans] == [600, 1500, 2400]
    assert ticks[0].kind == "closed"


def test_no_cycle_after_the_close():
    scheduler, time, cycles, ticks = make(900, {"closes_at": 2000})
    time.stop_after = 2701  # the first look after the close, then its wait
    scheduler.run()
    assert [s for s, _ in cycles.spans] == [0, 900, 1800]
    closed = [t for t in ticks if t.kind == "closed"]
    assert len(closed) == 1 and "2026-03-03T14:00:00+00:00" in closed[0].message


def test_an_overrunning_cycle_is_not_stacked_and_the_skip_is_logged():
    # The second cycle (index 1) takes 150 s of a 60 s interval: the slots at 120 and
    # 180 pass while it runs; the next cycle starts at 240, after it, not twice at once.
    scheduler, time, cycles, ticks = make(60, durations={1: 150})
    scheduler.run(max_cycles=4)
    starts = [s for s, _ in cycles.spans]
    assert starts == [0, 60, 240, 300]
    for (_, end), (start, _) in zip(cycles.spans, cycles.spans[1:], strict=False):
        assert start >= end
    skipped = [t for t in ticks if t.kind == "skipped"]
    assert len(skipped) == 1
    assert "2 run(s) skipped" in skipped[0].message and "2m 30s" in skipped[0].message


def test_a_failing_cycle_is_reported_and_the_loop_goes_on():
    time = FakeTime()
    ticks: list[Tick] = []
    calls: list[float] = []

    def cycle() -> bool:
        calls.append(time.t)
        if len(calls) == 1:
            raise ConnectionError("broker down")
        return True

    scheduler = Scheduler(
        10, cycle, Market(time), report=ticks.append, monotonic=time.monotonic, sleep=time.sleep
    )
    assert scheduler.run(max_cycles=2) == 2
    assert calls == [0, 10]
    assert any(t.kind == "failed" and "broker down" in t.message for t in ticks)


def test_run_cycle_saying_stop_ends_the_loop():
    time = FakeTime()
    scheduler = Scheduler(
        10, lambda: False, Market(time), monotonic=time.monotonic, sleep=time.sleep
    )
    assert scheduler.run() == 1


def test_stop_before_a_cycle_runs_none():
    scheduler, time, cycles, ticks = make(10)
    scheduler.stop()
    assert scheduler.run() == 0
    assert ticks[-1].kind == "stopped"


@pytest.mark.parametrize(
    ("text", "seconds"), [("1s", 1), ("2s", 2), ("15m", 900), ("1h", 3600), (" 90s ", 90)]
)
def test_parse_interval(text, seconds):
    assert parse_interval(text) == seconds


@pytest.mark.parametrize("text", ["", "0s", "15", "1d", "-1m", "1.5h", "m"])
def test_parse_interval_names_the_option(text):
    with pytest.raises(ValueError, match="--every"):
        parse_interval(text)


def test_human():
    assert [human(s) for s in (5, 60, 150, 900, 3600, 59400, 90000)] == [
        "5s",
        "1m",
        "2m 30s",
        "15m",
        "1h",
        "16h 30m",
        "1d 1h",
    ]
