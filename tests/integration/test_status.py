"""`mytrader status`: what it reports, and its exit status for a monitor (0 healthy,
1 unhealthy: last cycle failed, books and broker differ, no cycle for more than three
intervals while the market is open)."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from typer.testing import CliRunner

from mytrader.app.runner import open_arena
from mytrader.app.services import open_broker
from mytrader.app.status import gather
from mytrader.app.storage import open_store
from mytrader.cli import main as cli
from mytrader.ports.broker import MarketClock
from tests.helpers import make_settings
from tests.integration.test_cli import env_for


def status(backend, tmp_path, monkeypatch, *args: str):
    monkeypatch.chdir(tmp_path)  # no developer .env
    for name, value in env_for(backend).items():
        monkeypatch.setenv(name, value)
    return CliRunner().invoke(cli.app, ["status", *args])


def run(settings, n: int, interval_s: int | None = None, broker=None) -> None:
    with open_arena(settings, **({"broker": broker} if broker else {})) as arena:
        arena.interval_s = interval_s
        for _ in range(n):
            arena.run_cycle()


def test_healthy_arena_exits_0(backend, tmp_path, monkeypatch):
    settings = make_settings(**backend)
    run(settings, 3)  # deepseek buys at cycle 3: a limit order the next bar fills
    result = status(backend, tmp_path, monkeypatch)
    assert result.exit_code == 0, result.output
    assert "arena 'arena' on sim: healthy" in result.output
    assert "last cycle    3: ok" in result.output
    assert "last recorded cycle 3 (as of 2024-01-08)" in result.output
    assert "next cycle    not scheduled" in result.output
    assert "clock         2024-01-08 open; next open 2024-01-09" in result.output
    # deepseek's BUY, and the protective stop/take-profit of a position bought earlier.
    assert "open orders   2\n" in result.output and "  arena-3-deepseek-d-" in result.output
    assert "-p-" in result.output and "sell" in result.output
    assert "reconcile     no broker account" in result.output

    as_json = json.loads(status(backend, tmp_path, monkeypatch, "--json").output)
    assert as_json["healthy"] is True and as_json["problems"] == []
    assert as_json["last_heartbeat"]["outcome"] == "ok"
    assert as_json["clock"]["is_open"] is True


@dataclass
class FailingBroker:
    """The offline exchange, except that the market view cannot be built."""

    real: object

    def __getattr__(self, name: str):
        return getattr(self.real, name)

    def movers(self, as_of: str, top: int):
        raise ConnectionError("market data feed down")


def test_failed_last_cycle_exits_1(backend, tmp_path, monkeypatch):
    settings = make_settings(**backend)
    run(settings, 1)
    with open_store(settings) as store:
        broken = FailingBroker(open_broker(settings, store))
        with pytest.raises(ConnectionError):
            run(settings, 1, broker=broken)
    result = status(backend, tmp_path, monkeypatch)
    assert result.exit_code == 1, result.output
    assert "UNHEALTHY" in result.output
    assert "last cycle (2) failed: ConnectionError: market data feed down" in result.output

    # The next run resumes the cycle; the arena is healthy again.
    run(settings, 1)
    assert status(backend, tmp_path, monkeypatch).exit_code == 0


def test_no_cycle_for_three_intervals_while_open_exits_1(backend, tmp_path, monkeypatch):
    settings = make_settings(**backend)
    run(settings, 1, interval_s=900)  # as `run --every 15m` records it
    with open_store(settings) as store:
        broker = open_broker(settings, store)
        beat = store.heartbeats(settings.arena_id)[0]
        started = datetime.fromisoformat(beat.started_at)
        fine = gather(store, broker, "arena", now=started + timedelta(minutes=44))
        stale = gather(store, broker, "arena", now=started + timedelta(minutes=46))
    assert fine.healthy and fine.interval_s == 900
    assert not stale.healthy
    assert stale.problems == [
        "no cycle for 46m while the market is open (more than 3 intervals of 15m)"
    ]
    # Through the command: the recorded interval is 15 minutes, so right now it is fine;
    # told the arena runs every second, it has been silent too long.
    assert status(backend, tmp_path, monkeypatch).exit_code == 0
    late = status(backend, tmp_path, monkeypatch, "--every", "1s")
    if "no cycle for" not in late.output:  # the cycle above ended less than 3 s ago
        time.sleep(3.1)
        late = status(backend, tmp_path, monkeypatch, "--every", "1s")
    assert late.exit_code == 1 and "more than 3 intervals of 1s" in late.output
    assert status(backend, tmp_path, monkeypatch, "--every", "1x").exit_code == 2


@dataclass
class ClosedBroker:
    real: object
    opens: datetime

    def __getattr__(self, name: str):
        return getattr(self.real, name)

    def clock(self, as_of=None):
        now = self.opens - timedelta(hours=16)
        return MarketClock(
            timestamp=now.isoformat(), is_open=False, next_open=self.opens.isoformat()
        )


def test_closed_market_is_not_stale_and_next_cycle_is_the_open(backend):
    settings = make_settings(**backend)
    run(settings, 1, interval_s=900)
    opens = datetime(2026, 3, 3, 14, 30, tzinfo=UTC)
    with open_store(settings) as store:
        store.beat_next("arena", None)  # no plan recorded: status works it out
        broker = ClosedBroker(open_broker(settings, store), opens)
        report = gather(
            store, broker, "arena", interval_s=900, now=datetime.now(UTC) + timedelta(days=2)
        )
    assert report.healthy, report.problems
    assert report.clock is not None and report.clock.is_open is False
    assert report.next_at == "2026-03-03T14:30:00.000Z"


def test_reconcile_difference_is_unhealthy(backend):
    settings = make_settings(**backend)
    run(settings, 1)
    with open_store(settings) as store:
        broker = open_broker(settings, store)
        agree = gather(store, broker, "arena", reconcile=lambda: [])
        differ = gather(
            store, broker, "arena", reconcile=lambda: ["grok: NVDA 10 in the book, 0 at broker"]
        )
    assert agree.healthy and agree.reconcile == []
    assert not differ.healthy
    assert differ.problems == ["books and broker differ: grok: NVDA 10 in the book, 0 at broker"]


def test_no_cycle_yet(backend, tmp_path, monkeypatch):
    result = status(backend, tmp_path, monkeypatch)
    assert result.exit_code == 0 and "last cycle    none yet" in result.output
    never = status(backend, tmp_path, monkeypatch, "--every", "15m")
    assert never.exit_code == 1 and "no cycle was ever run" in never.output
