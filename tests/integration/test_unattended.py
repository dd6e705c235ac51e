"""`mytrader run --every` in a real subprocess: SIGTERM mid-cycle finishes and records
that cycle, then exits 0; a killed run (SIGKILL, or a second SIGTERM) is resumed by the
next start without placing any order twice."""

from __future__ import annotations

import queue
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections import Counter
from pathlib import Path

from mytrader.app.storage import open_store
from tests.helpers import clean_env, make_settings
from tests.integration.test_cli import env_for, mytrader

# The real CLI, with the offline broker wrapped so a test can see (and hit) the middle
# of a cycle: the screener's clock step says "IN CYCLE" (and pauses TEST_CYCLE_PAUSE
# seconds); with TEST_HOLD_ORDER=1 the broker holds the first order it accepted a minute;
# TEST_CLOSED_FOR=N: the broker's clock says closed for the first N seconds.
WRAPPED_CLI = textwrap.dedent(
    """
    import os, sys, time
    import mytrader.app.services as services

    real_open = services.open_broker

    def open_broker(settings, store):
        real = real_open(settings, store)

        closed_until = time.time() + float(os.environ.get("TEST_CLOSED_FOR", "0"))

        class Watched:
            def __getattr__(self, name):
                return getattr(real, name)

            def clock(self, as_of=None):
                if time.time() >= closed_until:
                    return real.clock(as_of)
                from datetime import datetime, timezone
                from mytrader.ports.broker import MarketClock

                def at(t):
                    return datetime.fromtimestamp(t, timezone.utc).isoformat()

                return MarketClock(
                    timestamp=at(time.time()), is_open=False, next_open=at(closed_until)
                )

            def next_session(self, after):
                out = real.next_session(after)
                print("IN CYCLE", out, flush=True)
                time.sleep(float(os.environ.get("TEST_CYCLE_PAUSE", "0")))
                return out

            def submit_order(self, order):
                result = real.submit_order(order)
                print("PLACED", order.client_order_id, flush=True)
                if os.environ.get("TEST_HOLD_ORDER") == "1":
                    time.sleep(60)
                return result

        return Watched()

    services.open_broker = open_broker
    from mytrader.cli.main import app

    app(sys.argv[1:], prog_name="mytrader")
    """
)


class Running:
    """A `mytrader` subprocess whose stdout lines are read as they come."""

    def __init__(self, args: list[str], env: dict[str, str], cwd: Path) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", WRAPPED_CLI, *args],
            env={**clean_env(), **env, "COLUMNS": "160"},
            cwd=cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line)
        self.lines.put("")  # EOF

    def wait_for(self, marker: str, count: int = 1, timeout: float = 120) -> str:
        """The `count`-th stdout line starting with `marker`."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=1)
            except queue.Empty:
                continue
            if line == "":
                break
            self.seen.append(line)
            if line.startswith(marker) and sum(s.startswith(marker) for s in self.seen) >= count:
                return line.strip()
        self.proc.kill()
        _, err = self.proc.communicate()
        raise AssertionError(f"no {count}x {marker!r} in:\n{''.join(self.seen)}\n{err}")

    def finish(self, timeout: float = 60) -> tuple[int, str, str]:
        code = self.proc.wait(timeout)
        rest = []
        while (line := self.lines.get(timeout=5)) != "":
            rest.append(line)
        assert self.proc.stderr is not None
        return code, "".join(self.seen + rest), self.proc.stderr.read()


def test_sigterm_mid_cycle_records_that_cycle_and_exits_0(backend, tmp_path):
    env = env_for(backend)
    run = Running(["run", "--every", "1s"], {**env, "TEST_CYCLE_PAUSE": "1"}, tmp_path)
    run.wait_for("IN CYCLE", count=3)  # cycle 3's screener is running
    run.proc.send_signal(signal.SIGTERM)
    code, out, err = run.finish()
    assert code == 0, err
    assert "SIGTERM: finishing the cycle in progress" in err
    assert "cycle 3 " in out and "cycle 4 " not in out
    assert "Leaderboard at cycle 3" in out

    settings = make_settings(**backend)
    with open_store(settings) as store:
        assert store.last_cycle(settings.arena_id) == 3
        beats = store.heartbeats(settings.arena_id, limit=10)
        assert [(b.cycle, b.outcome) for b in reversed(beats)] == [(1, "ok"), (2, "ok"), (3, "ok")]
        assert all(b.interval_s == 1 and b.ended_at and b.duration_ms >= 1000 for b in beats)
        # Each cycle but the last planned the next one; the stop cleared the plan.
        assert beats[0].next_at is None and all(b.next_at for b in beats[1:])
        snaps = {s.account for s in store.latest_snapshots(settings.arena_id) if s.cycle == 3}
        assert snaps == {"grok", "deepseek", "openai", "collaborative"}


def _killed_after_first_order(env: dict[str, str], tmp_path: Path, how: str) -> tuple[str, int]:
    run = Running(["run", "--every", "1s"], {**env, "TEST_HOLD_ORDER": "1"}, tmp_path)
    placed = run.wait_for("PLACED").split()[1]
    if how == "SIGKILL":
        run.proc.kill()
        code, _, _ = run.finish()
        assert code == -signal.SIGKILL
    else:  # a second signal stops at once, without finishing the cycle
        run.proc.send_signal(signal.SIGTERM)
        time.sleep(0.3)
        run.proc.send_signal(signal.SIGTERM)
        code, _, err = run.finish(timeout=20)
        assert code == 128 + signal.SIGTERM, err
        assert "SIGTERM again: stopping now" in err
    return placed, int(placed.split("-")[1])  # <arena>-<cycle>-<account>-...


def _resumed_without_duplicate(backend: dict, env: dict, tmp_path: Path, how: str) -> None:
    placed, cycle = _killed_after_first_order(env, tmp_path, how)
    settings = make_settings(**backend)
    with open_store(settings) as store:
        # Killed between placing the order and recording the cycle.
        assert store.ledger_get(placed) is not None
        assert (store.last_cycle(settings.arena_id) or 0) == cycle - 1  # None: none yet
        assert store.heartbeats(settings.arena_id)[0].outcome == "running"

    resumed = mytrader(["run", "--every", "1s", "--cycles", "2"], env, tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert f"cycle {cycle} " in resumed.stdout and "(resumed)" in resumed.stdout
    assert f"cycle {cycle + 1} " in resumed.stdout

    with open_store(settings) as store:
        rows = store.trades(settings.arena_id)
        counts = Counter(t.client_order_id for t in rows)
        assert counts[placed] == 1
        assert all(n == 1 for n in counts.values())
        beats = [(b.cycle, b.outcome) for b in store.heartbeats(settings.arena_id, limit=20)]
        # The interrupted attempt stays visible; the resumed one completed it.
        assert beats[:3] == [(cycle + 1, "ok"), (cycle, "ok"), (cycle, "running")]


def test_sigkilled_run_is_resumed_by_the_next_start_without_duplicate(backend, tmp_path):
    _resumed_without_duplicate(backend, env_for(backend), tmp_path, "SIGKILL")


def test_second_sigterm_stops_at_once_and_the_next_start_resumes(tmp_path):
    # The signal handling does not depend on the backend: SQLite only.
    backend = {"mytrader_home": tmp_path / "home", "database_url": None}
    _resumed_without_duplicate(backend, env_for(backend), tmp_path, "SIGTERM twice")


def test_closed_market_waits_for_the_open_and_says_so(tmp_path):
    env = env_for({"mytrader_home": tmp_path / "home"})
    run = Running(
        ["run", "--every", "1s", "--cycles", "1"], {**env, "TEST_CLOSED_FOR": "3"}, tmp_path
    )
    code, out, err = run.finish(timeout=180)
    assert code == 0, err
    waiting = out.index("market closed at")
    assert "waiting for the next open at" in out[waiting:]
    assert waiting < out.index("cycle 1 ")  # no cycle before the open
