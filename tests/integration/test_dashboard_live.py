"""The live stream and the token: real servers, a real WebSocket client, real databases."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import ClientConnection, connect

from mytrader.adapters.store.db import CYCLE_CHANNEL, ArenaStore
from mytrader.adapters.store.reads import ArenaReader
from mytrader.app.storage import open_reader, open_store
from mytrader.config import Settings
from mytrader.web.app import DashboardConfig, create_app
from mytrader.web.serve import ServeRefused, check_exposure
from tests.dashboard_support import cycle_record, live_server, reasoning_of, seed, serve_process
from tests.helpers import clean_env

ARENA = "arena"


def ws_url(base: str, since: int, arena: str = ARENA) -> str:
    return base.replace("http://", "ws://") + f"/ws?arena={arena}&since={since}"


def cycles_from(ws: ClientConnection, count: int, timeout: float = 30.0) -> list[dict[str, Any]]:
    """The next `count` cycle messages (hello and pings skipped)."""
    got: list[dict[str, Any]] = []
    while len(got) < count:
        msg = json.loads(ws.recv(timeout=timeout))
        if msg["type"] == "cycle":
            got.append(msg)
    return got


def nothing_more(ws: ClientConnection, wait: float = 1.0) -> None:
    """No cycle message arrives within `wait` (a duplicate would)."""
    try:
        while True:
            msg = json.loads(ws.recv(timeout=wait))
            assert msg["type"] != "cycle", f"unexpected cycle {msg.get('cycle')}"
    except TimeoutError:
        return


@pytest.fixture
def reader(settings: Settings, store: ArenaStore) -> Iterator[ArenaReader]:
    r = open_reader(settings)
    assert isinstance(r, ArenaReader)
    try:
        yield r
    finally:
        r.close()


def test_stream_pushes_new_cycles_and_reconnect_catches_up(
    settings: Settings, reader: ArenaReader, store: ArenaStore
) -> None:
    """No gaps and no duplicates across a disconnect. On PostgreSQL only NOTIFY can deliver
    here: the reconciling poll is set to an hour."""
    seed(store, ARENA, 1, 3)
    config = DashboardConfig(
        default_arena=ARENA, listen_url=settings.postgres_url, poll_s=0.05, reconcile_s=3600
    )
    # A second store: the writer is another connection (on SQLite, another handle), like
    # `mytrader run` in another process.
    with live_server(create_app(reader, config)) as base, open_store(settings) as w:
        with connect(ws_url(base, 0), proxy=None) as ws:
            hello = json.loads(ws.recv(timeout=10))
            assert hello == {"type": "hello", "arena": ARENA, "last": 3}
            assert [m["cycle"] for m in cycles_from(ws, 3)] == [1, 2, 3]
            seed(w, ARENA, 4, 5)
            fresh = cycles_from(ws, 2)
            assert [m["cycle"] for m in fresh] == [4, 5]
            grok = fresh[1]["decisions"]["grok"]["decision"]
            assert grok["reasoning"] == reasoning_of("grok", 5)
            assert {s["account"] for s in fresh[1]["snapshots"]} == {
                "grok",
                "deepseek",
                "openai",
                "collaborative",
            }
            assert fresh[1]["vote"]["votes"]["openai"] == "BUY AAPL"
            booked = {o["client_order_id"]: o["status"] for o in fresh[1]["orders"]}
            assert booked == {f"{ARENA}-grok-4-0": "filled", f"{ARENA}-grok-5-0": "pending"}
        # The page is gone while two cycles are recorded, then reconnects from cycle 5.
        seed(w, ARENA, 6, 7)
        with connect(ws_url(base, 5), proxy=None) as ws:
            assert [m["cycle"] for m in cycles_from(ws, 2)] == [6, 7]
            seed(w, ARENA, 8, 8)
            assert [m["cycle"] for m in cycles_from(ws, 1)] == [8]
            nothing_more(ws)


def test_other_arenas_do_not_leak_into_a_stream(
    settings: Settings, reader: ArenaReader, store: ArenaStore
) -> None:
    seed(store, ARENA, 1, 1)
    config = DashboardConfig(default_arena=ARENA, listen_url=settings.postgres_url, poll_s=0.05)
    with live_server(create_app(reader, config)) as base:
        with connect(ws_url(base, 1), proxy=None) as ws:
            seed(store, "other", 1, 2)
            seed(store, ARENA, 2, 2)
            (msg,) = cycles_from(ws, 1)
            assert (msg["arena"], msg["cycle"]) == (ARENA, 2)
            assert {o["client_order_id"] for o in msg["orders"]} == {
                f"{ARENA}-grok-1-0",
                f"{ARENA}-grok-2-0",
            }
            nothing_more(ws)


@pytest.mark.postgres
def test_record_cycle_notifies_on_commit(postgres_url: str) -> None:
    with (
        ArenaStore.postgres(postgres_url) as store,
        psycopg.connect(postgres_url, autocommit=True) as listener,
    ):
        listener.execute(f"LISTEN {CYCLE_CHANNEL}")
        store.record_cycle(cycle_record("notified", 7))
        notes = list(listener.notifies(timeout=10, stop_after=1))
        assert [n.payload for n in notes] == ["notified:7"]
        store.reset("notified")


# --- the token -------------------------------------------------------------------------


def test_serve_refuses_an_open_host_without_a_token() -> None:
    check_exposure("127.0.0.1", None)
    check_exposure("::1", None)
    check_exposure("localhost", None)
    for host in ("0.0.0.0", "192.0.2.7", "::"):
        with pytest.raises(ServeRefused, match="DASHBOARD_TOKEN"):
            check_exposure(host, None)
    with pytest.raises(ServeRefused, match="at least 16"):
        check_exposure("0.0.0.0", "short")
    check_exposure("0.0.0.0", "x" * 16)


def test_cli_serve_on_an_open_host_needs_the_token(tmp_path: Path) -> None:
    env = {**clean_env(), "MYTRADER_HOME": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-m", "mytrader.cli.main", "serve", "--host", "0.0.0.0", "--port", "1"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert "DASHBOARD_TOKEN" in done.stdout


@pytest.fixture
def guarded_server(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """`mytrader serve --host 0.0.0.0` with DASHBOARD_TOKEN, in its own process; every
    request below goes to it over loopback."""
    token = "t0ken-" + os.urandom(12).hex()
    home = tmp_path / "home"
    home.mkdir(parents=True)
    with ArenaStore.sqlite(home / "arena.sqlite") as store:
        seed(store, ARENA, 1, 2)
    env = {
        **clean_env(),
        "MYTRADER_HOME": str(home),
        "DASHBOARD_TOKEN": token,
        "OPENROUTER_API_KEY": "sk-or-v1-neverserved0123456789",
    }
    with serve_process(env, host="0.0.0.0") as base:
        yield base, token


def test_token_is_required_on_http_and_websocket(guarded_server: tuple[str, str]) -> None:
    base, token = guarded_server
    for path in ("/", "/api/leaderboard", "/api/trades", "/static/app.js", "/openapi.json"):
        assert httpx.get(base + path).status_code == 401, path
        wrong = {"Authorization": "Bearer " + "x" * len(token)}
        assert httpx.get(base + path, headers=wrong).status_code == 401, path
    bearer = {"Authorization": f"Bearer {token}"}
    assert httpx.get(base + "/api/leaderboard", headers=bearer).status_code == 200

    with pytest.raises(InvalidStatus) as refused:
        connect(ws_url(base, 0), proxy=None)
    assert refused.value.response.status_code == 401
    with connect(ws_url(base, 0), proxy=None, additional_headers=bearer) as ws:
        assert [m["cycle"] for m in cycles_from(ws, 2)] == [1, 2]

    # `?token=` once: an HttpOnly cookie, and a redirect to the address without the token.
    with httpx.Client(base_url=base) as browser:
        assert browser.get("/?token=wrong").status_code == 401
        first = browser.get(f"/?arena={ARENA}&token={token}")
        assert first.status_code == 303 and first.headers["location"] == f"/?arena={ARENA}"
        assert "httponly" in first.headers["set-cookie"].lower()
        assert browser.get("/api/agents").status_code == 200
        cookie = f"mytrader_token={browser.cookies['mytrader_token']}"
    with connect(ws_url(base, 1), proxy=None, additional_headers={"Cookie": cookie}) as ws:
        assert [m["cycle"] for m in cycles_from(ws, 1)] == [2]


def test_no_secret_is_ever_served(guarded_server: tuple[str, str]) -> None:
    base, token = guarded_server
    bearer = {"Authorization": f"Bearer {token}"}
    paths = ["/", "/static/app.js", "/static/app.css", "/openapi.json", "/api/overview"]
    paths += [
        f"/api/{p}"
        for p in ("arenas", "leaderboard", "equity", "positions", "trades", "logs", "votes")
    ]
    paths += ["/api/usage", "/api/agents", "/api/cycles"]
    for path in paths:
        res = httpx.get(base + path, headers=bearer)
        assert res.status_code == 200, path
        assert token not in res.text and "neverserved" not in res.text, path


def test_websocket_from_another_site_is_refused(settings: Settings, reader: ArenaReader) -> None:
    config = DashboardConfig(default_arena=ARENA, listen_url=settings.postgres_url)
    with live_server(create_app(reader, config)) as base:
        with pytest.raises(InvalidStatus) as refused:
            connect(ws_url(base, 0), proxy=None, origin="http://evil.example")  # type: ignore[arg-type]
        assert refused.value.response.status_code == 403
