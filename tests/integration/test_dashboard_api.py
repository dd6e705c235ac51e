"""The dashboard's JSON API over real HTTP, on SQLite and PostgreSQL alike."""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest

from mytrader.adapters.store.db import ArenaStore
from mytrader.adapters.store.reads import ArenaReader
from mytrader.app.leaderboard import leaderboard
from mytrader.app.runner import open_arena
from mytrader.app.storage import open_reader
from mytrader.config import Settings
from mytrader.web.serve import build
from tests.dashboard_support import live_server, reasoning_of, seed
from tests.helpers import run_cli

ARENA = "arena"  # the settings' default ARENA_ID
OTHER = "bt_2024"  # e.g. a backtest run recorded under its own id


@pytest.fixture
def api(settings: Settings, store: ArenaStore) -> Iterator[tuple[httpx.Client, ArenaReader]]:
    seed(store, ARENA, 1, 30)
    seed(store, OTHER, 1, 3)
    app, reader = build(settings)
    try:
        with live_server(app) as base, httpx.Client(base_url=base, timeout=10) as client:
            yield client, reader
    finally:
        reader.close()


def get(client: httpx.Client, path: str, **params: Any) -> Any:
    res = client.get(path, params=params)
    assert res.status_code == 200, res.text
    return res.json()


def walk(client: httpx.Client, path: str, **params: Any) -> list[dict[str, Any]]:
    """Every item of a paged list, following `next` until the last page."""
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        page = get(client, path, **params, **({"before": cursor} if cursor else {}))
        items += page["items"]
        cursor = page["next"]
        if cursor is None:
            return items


def test_arenas_lists_every_recorded_arena(api: tuple[httpx.Client, ArenaReader]) -> None:
    client, _ = api
    body = get(client, "/api/arenas")
    assert body["default"] == ARENA
    assert [(a["arena"], a["cycles"], a["last_cycle"]) for a in body["items"]] == [
        (ARENA, 30, 30),
        (OTHER, 3, 3),
    ]


def test_leaderboard_has_the_cli_figures(
    api: tuple[httpx.Client, ArenaReader], store: ArenaStore
) -> None:
    client, reader = api
    expected = leaderboard(store, ARENA)  # the CLI reads the store
    body = get(client, "/api/leaderboard")
    assert body["items"] == [s.model_dump(mode="json") for s in expected]
    assert body["items"][0]["equity"] == "100000.75"  # exact money, as a string
    assert get(client, "/api/leaderboard", arena=OTHER)["items"][0]["cycle"] == 3
    assert body["items"][0]["spy_return_pct"] == round((430 / 401 - 1) * 100, 4)


def test_the_dashboard_and_the_cli_show_one_leaderboard(settings: Settings, tmp_path) -> None:
    """Sharpe, drawdown and SPY too: `/api/leaderboard`, the overview's and
    `mytrader leaderboard --json` are the same rows for the same arena."""
    with open_arena(settings) as arena:
        for _ in range(24):  # past the minimum days: a Sharpe with its interval
            arena.run_cycle()
    env = {"MYTRADER_HOME": str(settings.mytrader_home)}
    if settings.postgres_url:
        env["DATABASE_URL"] = settings.postgres_url
    cli = run_cli(["leaderboard", "--json"], env, tmp_path)
    assert cli.returncode == 0, cli.stderr
    app, reader = build(settings)
    try:
        with live_server(app) as base, httpx.Client(base_url=base, timeout=10) as client:
            web = get(client, "/api/leaderboard")["items"]
            overview = get(client, "/api/overview")["leaderboard"]
    finally:
        reader.close()
    assert web == json.loads(cli.stdout) == overview
    assert {r["account"] for r in web} == set(settings.accounts)
    assert any(r["sharpe"] is not None and r["sharpe_ci95_low"] is not None for r in web)
    assert all(r["max_drawdown_pct"] is not None for r in web)
    assert {r["spy_return_pct"] for r in web} != {None}


def test_equity_is_downsampled_keeping_both_ends(
    api: tuple[httpx.Client, ArenaReader], store: ArenaStore
) -> None:
    client, reader = api
    full = get(client, "/api/equity")
    assert full["step"] == 1 and full["cycles"] == list(range(1, 31))
    small = get(client, "/api/equity", points=10)
    assert small["step"] == 3
    assert small["cycles"] == [1, 3, 6, 9, 12, 15, 18, 21, 24, 27, 30]
    assert set(small["equity"]) == {"collaborative", "deepseek", "grok", "openai"}
    by_cycle = {(s.cycle, s.account): str(s.equity) for s in store.snapshots(ARENA)}
    for account, values in small["equity"].items():
        assert values == [by_cycle[(c, account)] for c in small["cycles"]]
    assert small["as_of"][0] == "2024-01-02" and small["as_of"][-1] == "2024-01-31"
    # The benchmark's close at the same cycles (SPY, as the record step stored it).
    assert small["benchmark"]["symbol"] == "SPY"
    closes = [Decimal(v) for v in small["benchmark"]["close"]]
    assert closes == [Decimal(400 + c) / 2 for c in small["cycles"]]


def test_trades_page_through_every_leg_once(
    api: tuple[httpx.Client, ArenaReader], store: ArenaStore
) -> None:
    client, reader = api
    legs = walk(client, "/api/trades", limit=7)
    assert [t["client_order_id"] for t in legs] == [f"{ARENA}-grok-{c}-0" for c in range(30, 0, -1)]
    # The last BUY is pending; the one before was booked at cycle 30's start.
    assert legs[0]["status"] == "pending" and legs[0]["filled_avg_price"] is None
    assert (legs[1]["status"], legs[1]["cycle"], legs[1]["booked_cycle"]) == ("filled", 29, 30)
    assert legs[1]["filled_avg_price"] == "130" and legs[1]["limit_price"] == "200"
    assert len(store.trades(ARENA)) == 30
    assert len(get(client, "/api/trades", status="filled", limit=100)["items"]) == 29
    assert get(client, "/api/trades", account="openai")["items"] == []


def test_logs_votes_usage_agents_positions(api: tuple[httpx.Client, ArenaReader]) -> None:
    client, _ = api
    critiques = walk(client, "/api/logs", kind="CRITIQUE", agent="grok", limit=2)
    assert [(r["cycle"], r["content"]) for r in critiques] == [
        (c, f"grok critique {c}") for c in (30, 25, 20, 15, 10, 5)
    ]
    votes = walk(client, "/api/votes", limit=4)
    assert [v["cycle"] for v in votes] == list(range(30, 0, -1))
    assert votes[0]["votes"] == {"grok": "BUY AAPL", "deepseek": "BUY AAPL", "openai": "BUY AAPL"}
    assert votes[0]["weights"] == {"grok": 1.0, "deepseek": 1.0, "openai": 1.0}

    usage = get(client, "/api/usage", limit=4)
    assert {t["agent"]: t["calls"] for t in usage["totals"]} == {
        "deepseek": 30,
        "grok": 30,
        "openai": 30,
    }
    rows = walk(client, "/api/usage", limit=4)
    assert len(rows) == 90 and len({(r["cycle"], r["agent"]) for r in rows}) == 90

    agents = get(client, "/api/agents")
    assert set(agents["agents"]) == {"deepseek", "grok", "openai"}
    grok = agents["agents"]["grok"]
    assert grok["decision"]["cycle"] == 30
    assert grok["decision"]["decision"]["reasoning"] == reasoning_of("grok", 30)
    assert grok["critique"] == {"cycle": 30, "text": "grok critique 30"}
    assert agents["vote"]["cycle"] == 30 and agents["vote"]["decision"]["decision"] == "BUY"

    books = get(client, "/api/positions")["items"]
    assert [b["account"] for b in books] == ["collaborative", "deepseek", "grok", "openai"]
    assert all(b["positions"] == {"AAPL": 30} and b["cycle"] == 30 for b in books)


def test_cycles_bundle_what_the_stream_sends(api: tuple[httpx.Client, ArenaReader]) -> None:
    client, _ = api
    page = get(client, "/api/cycles", after=27, limit=5)
    assert [b["cycle"] for b in page["items"]] == [28, 29, 30] and page["next"] is None
    last = page["items"][-1]
    assert last["decisions"]["openai"]["decision"]["reasoning"] == reasoning_of("openai", 30)
    assert last["critiques"]["grok"] == "grok critique 30"
    assert last["vote"]["reason"] == "all agree"
    # The order placed at 30 (pending) and the one of 29 booked at 30's start.
    assert [(o["client_order_id"], o["status"]) for o in last["orders"]] == [
        (f"{ARENA}-grok-29-0", "filled"),
        (f"{ARENA}-grok-30-0", "pending"),
    ]
    assert len(last["snapshots"]) == 4
    assert last["benchmark"]["symbol"] == "SPY" and Decimal(last["benchmark"]["close"]) == 215


def test_bad_parameters_are_422_and_openapi_lists_the_api(
    api: tuple[httpx.Client, ArenaReader],
) -> None:
    client, _ = api
    assert client.get("/api/trades", params={"limit": 0}).status_code == 422
    assert client.get("/api/trades", params={"limit": 501}).status_code == 422
    paths = get(client, "/openapi.json")["paths"]
    for path in ("/api/leaderboard", "/api/equity", "/api/positions", "/api/trades"):
        assert path in paths
    for path in ("/api/logs", "/api/votes", "/api/usage", "/api/arenas", "/api/cycles"):
        assert path in paths


def test_escaped_script_reasoning_is_data_not_markup(settings: Settings, store: ArenaStore) -> None:
    """The API returns a model's `<script>` answer as a JSON string, never as HTML."""
    from tests.dashboard_support import cycle_record

    evil = '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2">'
    app, reader = build(settings)
    try:
        store.record_cycle(cycle_record(ARENA, 1, reasoning={"grok": evil}))
        with live_server(app) as base, httpx.Client(base_url=base) as client:
            res = client.get("/api/agents")
            assert res.headers["content-type"].startswith("application/json")
            assert res.json()["agents"]["grok"]["decision"]["decision"]["reasoning"] == evil
            page = client.get("/")
            assert "script-src 'self'" in page.headers["content-security-policy"]
            assert "innerHTML" not in client.get("/static/app.js").text
    finally:
        reader.close()


def test_kept_sums_and_series_follow_new_cycles_and_resets(
    settings: Settings, store: ArenaStore
) -> None:
    """The incremental usage totals behind the leaderboard equal a full re-sum at every
    step, and the kept equity series is read again when the arena changes."""
    reader = open_reader(settings)
    assert isinstance(reader, ArenaReader)
    with reader:
        seed(store, "u", 1, 5)
        assert reader.usage_totals("u") == store.usage("u")
        assert reader.equity_series("u")["cycles"] == [1, 2, 3, 4, 5]
        seed(store, "u", 6, 8)
        totals = reader.usage_totals("u")
        assert totals == store.usage("u") and totals["grok"].calls == 8
        assert reader.equity_series("u")["cycles"] == list(range(1, 9))
        store.reset("u")
        assert reader.usage_totals("u") == {}
        assert reader.equity_series("u")["cycles"] == []
        seed(store, "u", 1, 9)  # past the cycle it had summed up to, but a new run
        totals = reader.usage_totals("u")
        assert totals == store.usage("u") and totals["grok"].calls == 9
        assert reader.equity_series("u")["cycles"] == list(range(1, 10))


def test_overview_is_the_separate_endpoints_in_one(api: tuple[httpx.Client, ArenaReader]) -> None:
    client, _ = api
    view = get(client, "/api/overview", arena=OTHER)
    assert view["arena"] == OTHER
    assert view["arenas"] == get(client, "/api/arenas", limit=500)
    assert view["leaderboard"] == get(client, "/api/leaderboard", arena=OTHER)["items"]
    assert view["equity"] == get(client, "/api/equity", arena=OTHER)
    assert view["agents"] == get(client, "/api/agents", arena=OTHER)
    assert view["positions"] == get(client, "/api/positions", arena=OTHER)["items"]
    assert view["trades"]["items"] == get(client, "/api/trades", arena=OTHER)["items"]
    assert [b["cycle"] for b in view["recent"]] == [1, 2, 3]
    assert get(client, "/api/overview")["arena"] == ARENA  # the served arena by default
