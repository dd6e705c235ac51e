"""The evidence on every surface (issue 17): `mytrader leaderboard` (and `--json`) says
"too early to tell" instead of a bare Sharpe below the minimum days, and shows the Sharpe
with its block-bootstrap interval from it on; the dashboard's `/api/evidence` is the same
evidence as `arena_evidence` on the store, and the leaderboard rows carry its figures."""

from __future__ import annotations

import json
import re

import httpx

from mytrader.app.evidence import arena_evidence
from mytrader.app.runner import open_arena
from mytrader.config import Settings
from mytrader.domain.evidence import MIN_DAYS
from tests.dashboard_support import live_server
from tests.helpers import run_cli


def test_leaderboard_says_too_early_to_tell_then_shows_the_interval(
    settings: Settings, tmp_path
) -> None:
    env = {"MYTRADER_HOME": str(settings.mytrader_home)}
    if settings.postgres_url:
        env["DATABASE_URL"] = settings.postgres_url
    with open_arena(settings) as arena:
        for _ in range(3):
            arena.run_cycle()
    early = run_cli(["leaderboard"], env, tmp_path)
    assert early.returncode == 0, early.stderr
    assert early.stdout.count("too early to tell") >= len(settings.accounts)
    assert "2 of 20 days" in early.stdout
    # no number in the Sharpe column: every row's cell is the words
    board = json.loads(run_cli(["leaderboard", "--json"], env, tmp_path).stdout)
    assert all(r["sharpe"] is None and r["sharpe_ci95_low"] is None for r in board)
    assert {r["status"] for r in board} == {"too early to tell: 2 of 20 days"}

    with open_arena(settings) as arena:
        for _ in range(MIN_DAYS + 8 - 3):
            arena.run_cycle()
    later = run_cli(["leaderboard", "--json"], env, tmp_path)
    rows = json.loads(later.stdout)
    moved = [r for r in rows if r["sharpe"] is not None]
    assert moved, rows
    for r in moved:
        assert r["sharpe_ci95_low"] <= r["sharpe"] <= r["sharpe_ci95_high"]
        assert r["days"] == MIN_DAYS + 7 and "too early to tell: 2 of" not in r["status"]
    shown = run_cli(["leaderboard"], env, tmp_path).stdout
    first = moved[0]
    interval = (
        f"{first['sharpe']:.2f} [{first['sharpe_ci95_low']:.1f}, {first['sharpe_ci95_high']:.1f}]"
    )
    assert interval in shown
    assert not re.search(r"too early to tell\s*\n\s*\d+ of 20 days", shown)


def test_api_evidence_is_the_arenas_evidence(settings: Settings) -> None:
    from mytrader.app.storage import open_store
    from mytrader.web.serve import build

    with open_arena(settings) as arena:
        for _ in range(MIN_DAYS + 3):
            arena.run_cycle()
    with open_store(settings) as store:
        expected = arena_evidence(store, settings.arena_id).model_dump(mode="json")
    app, reader = build(settings)
    try:
        with live_server(app) as base, httpx.Client(base_url=base, timeout=30) as client:
            body = client.get("/api/evidence").json()
            board = client.get("/api/leaderboard").json()["items"]
    finally:
        reader.close()
    assert body["evidence"] == expected
    ev = body["evidence"]
    assert ev["beats"]["names"] == [*sorted(settings.accounts), "SPY"]
    assert set(ev["calibration"]) <= set(settings.accounts)
    by = {a["account"]: a for a in ev["accounts"]}
    for row in board:
        assert row["status"] == by[row["account"]]["status"]["text"]
        assert row["sharpe"] == by[row["account"]]["gross"]["sharpe"]
