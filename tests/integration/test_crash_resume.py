"""A process killed in the middle of the executor: the next `mytrader run` resumes the
cycle from its checkpoint and places no order twice."""

from __future__ import annotations

from collections import Counter

from mytrader.app.storage import open_store
from tests.helpers import killed_after_first_order, make_settings
from tests.integration.test_cli import env_for, mytrader


def test_killed_mid_executor_resumes_without_duplicate(backend, tmp_path):
    env = env_for(backend)
    placed = killed_after_first_order(env, tmp_path, cycles=80)
    cycle = int(placed.split("-")[1])  # <arena>-<cycle>-<account>-...

    # The interrupted cycle, then the next one, which books the order's fill.
    resumed = mytrader(["run", "--cycles", "2"], env, tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert f"cycle {cycle} " in resumed.stdout and "(resumed)" in resumed.stdout

    settings = make_settings(**backend)
    with open_store(settings) as store:
        rows = store.trades(settings.arena_id)
        counts = Counter(t.client_order_id for t in rows)
        assert all(n == 1 for n in counts.values())
        assert placed in counts
        assert store.ledger_get(placed) is not None
        # The order placed before the kill was adopted by the resumed cycle and booked
        # once, at the start of the next one.
        row = next(t for t in rows if t.client_order_id == placed)
        assert row.cycle == cycle and row.booked_cycle == cycle + 1
        assert row.status in ("filled", "expired")
        snaps = {s.account: s for s in store.latest_snapshots(settings.arena_id)}
        for account, snap in snaps.items():
            fills = [t for t in rows if t.account == account and t.status == "filled"]
            assert snap.trades == len(fills)
