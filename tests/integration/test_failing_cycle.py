"""A cycle whose record step fails every time it is resumed: each `mytrader run` says
what failed (node, error, how many times in a row) and how to go on; `mytrader repair`
ends the cycle keeping the orders already at the broker and the books; the next run works.

The failure is real: a database trigger refuses cycle 3's portfolio snapshots (cycle 3 is
the first with an order on the bundled sample with house models), on SQLite and
PostgreSQL, through the real command in separate processes.
"""

from __future__ import annotations

import json
import sqlite3
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest

from mytrader.app.storage import open_store
from tests.helpers import make_settings
from tests.integration.test_cli import env_for, mytrader

FAIL_AT = 3
SQLITE_TRIGGER = f"""
CREATE TRIGGER refuse_snapshots BEFORE INSERT ON portfolio_snapshots
WHEN NEW.cycle = {FAIL_AT} BEGIN SELECT RAISE(ABORT, 'injected: snapshot refused'); END
"""
PG_TRIGGER = f"""
CREATE OR REPLACE FUNCTION refuse_snapshot() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'injected: snapshot refused'; END $$;
CREATE TRIGGER refuse_snapshots BEFORE INSERT ON portfolio_snapshots
FOR EACH ROW WHEN (NEW.cycle = {FAIL_AT}) EXECUTE FUNCTION refuse_snapshot();
"""


@pytest.fixture
def refused_snapshots(backend: dict[str, Any]) -> Iterator[Callable[[], None]]:
    """Installs the trigger when called; the shared PostgreSQL database loses it after."""
    yield lambda: _install_trigger(backend)
    if backend.get("database_url"):
        with psycopg.connect(str(backend["database_url"]), autocommit=True) as conn:
            conn.execute("DROP TRIGGER IF EXISTS refuse_snapshots ON portfolio_snapshots")


def _install_trigger(backend: dict[str, Any]) -> None:
    if backend.get("database_url"):
        with psycopg.connect(str(backend["database_url"]), autocommit=True) as conn:
            conn.execute("DROP TRIGGER IF EXISTS refuse_snapshots ON portfolio_snapshots")
            conn.execute(PG_TRIGGER)
    else:
        with sqlite3.connect(backend["mytrader_home"] / "arena.sqlite") as conn:
            conn.execute(SQLITE_TRIGGER)


def test_repeating_record_failure_is_reported_and_repaired(backend, refused_snapshots, tmp_path):
    env = env_for(backend)
    first = mytrader(["run", "--cycles", str(FAIL_AT - 1), "--quiet"], env, tmp_path)
    assert first.returncode == 0, first.stderr
    refused_snapshots()

    for attempt in (1, 2):  # the same failure, counted, never a silent loop
        failed = mytrader(["run", "--cycles", "2"], env, tmp_path)
        assert failed.returncode == 3, failed.stdout + failed.stderr
        assert "Traceback" not in failed.stderr
        out = " ".join(failed.stdout.split())
        assert f"cycle {FAIL_AT} of arena 'arena' failed at node 'record'" in out
        assert f"({attempt} time{'s' if attempt > 1 else ''} in a row)" in out
        assert "injected: snapshot refused" in out and "mytrader repair --yes" in out
    assert "failed 1 time(s) before at node record" in failed.stderr  # said on resume

    repaired = mytrader(["repair", "--yes"], env, tmp_path)
    assert repaired.returncode == 0, repaired.stdout + repaired.stderr
    said = " ".join(repaired.stdout.split())
    assert f"cycle {FAIL_AT} ended" in said and "refused by the database" in said

    settings = make_settings(**backend)
    with open_store(settings) as store:
        placed = [t for t in store.trades(settings.arena_id) if t.cycle == FAIL_AT]
        assert placed, "cycle 3 placed an order; the repair recorded it"
        failure = store.failure(settings.arena_id, FAIL_AT)
        assert failure is not None and failure["count"] == 2 and failure["repaired"]
        kept = json.loads(failure["unrecorded"])
        assert {k["kind"] for k in kept} == {"snapshot"}  # only what the database refused

    after = mytrader(["run", "--cycles", "3"], env, tmp_path)
    assert after.returncode == 0, after.stdout + after.stderr
    assert f"cycle {FAIL_AT + 1} " in after.stdout and f"cycle {FAIL_AT + 3} " in after.stdout
    assert f"cycle {FAIL_AT} " not in after.stdout  # not rerun: ended by the repair

    with open_store(settings) as store:
        rows = store.trades(settings.arena_id)
        counts = Counter(t.client_order_id for t in rows)
        assert all(n == 1 for n in counts.values())  # no order placed twice
        for t in placed:  # the repaired cycle's orders are still known to the broker
            assert store.ledger_get(t.client_order_id) is not None
        snaps = {s.account: s for s in store.latest_snapshots(settings.arena_id)}
        assert snaps["deepseek"].cycle == FAIL_AT + 3
        for account, snap in snaps.items():  # the books carried the repaired fills on
            fills = [t for t in rows if t.account == account and t.status == "filled"]
            assert snap.trades == len(fills)
            assert snap.cash >= 0 and snap.equity == snap.cash + snap.positions_value
        assert any(t.account == "deepseek" for t in placed)
