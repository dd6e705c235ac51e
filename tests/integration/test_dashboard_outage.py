"""The dashboard while its database is down: 503 with a message, and back when it is."""

from __future__ import annotations

import json
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest
from websockets.exceptions import ConnectionClosedError
from websockets.sync.client import connect

from mytrader.adapters.store.db import ArenaStore
from mytrader.app.storage import store_config
from mytrader.config import load_settings
from mytrader.web.serve import build
from tests.dashboard_support import live_server, seed
from tests.servers.tcp_proxy import TcpProxy

ARENA = "arena"


def until(client: httpx.Client, path: str, status: int, within: float = 90.0) -> httpx.Response:
    """The first answer to `path` with `status`, asking again until `within` seconds."""
    deadline = time.monotonic() + within
    while True:
        res = client.get(path)
        if res.status_code == status or time.monotonic() > deadline:
            return res
        time.sleep(0.2)


def assert_unavailable(res: httpx.Response) -> None:
    assert res.status_code == 503, res.text
    assert "database cannot be read" in res.json()["detail"]
    assert res.headers["retry-after"].isdigit()


@pytest.mark.postgres
def test_postgres_down_is_503_and_back_is_200(postgres_url: str, tmp_path: Path) -> None:
    """A real PostgreSQL behind a loopback TCP proxy that the test stops and restarts."""
    parts = urlsplit(postgres_url)
    proxy = TcpProxy(parts.hostname or "127.0.0.1", parts.port or 5432)
    proxy.start()
    netloc = parts.netloc.replace(f":{parts.port}", f":{proxy.port}")
    proxied = urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
    with ArenaStore.postgres(postgres_url) as store:
        store.setup()
        store.reset(ARENA)
        seed(store, ARENA, 1, 3)
    settings = load_settings(mytrader_home=tmp_path, database_url=proxied, _env_file=None)
    app, reader = build(settings)
    try:
        with live_server(app) as base, httpx.Client(base_url=base, timeout=120) as client:
            assert client.get("/api/leaderboard").status_code == 200
            proxy.stop()
            # (PostgreSQL: after the pool's wait for a connection, 30 s by default)
            assert_unavailable(client.get("/api/leaderboard"))
            assert client.get("/").status_code == 200  # the page itself needs no database
            proxy.start()
            back = until(client, "/api/leaderboard", 200)
            assert back.status_code == 200, back.text
            assert back.json()["items"][0]["cycle"] == 3
    finally:
        proxy.stop()
        reader.close()


def _zero(path: Path) -> None:
    """The WAL index zeroed in place (it is memory-mapped): the next read rebuilds it
    from the files, and so sees what they hold now."""
    with path.open("r+b") as f:
        f.write(bytes(path.stat().st_size))


def test_unreadable_sqlite_is_503_and_back_is_200(tmp_path: Path) -> None:
    """The arena's SQLite file (and its WAL) overwritten with junk under the server,
    then restored."""
    settings = load_settings(mytrader_home=tmp_path, database_url=None, _env_file=None)
    with ArenaStore.open(store_config(settings)) as store:
        seed(store, ARENA, 1, 3)
    app, reader = build(settings)
    db, wal, shm = (tmp_path / f"arena.sqlite{end}" for end in ("", "-wal", "-shm"))
    try:
        with live_server(app) as base, httpx.Client(base_url=base, timeout=60) as client:
            assert client.get("/api/leaderboard").status_code == 200
            saved = {p: p.read_bytes() for p in (db, wal)}
            db.write_bytes(b"not a database " * 1000)
            wal.write_bytes(b"")
            _zero(shm)
            assert_unavailable(client.get("/api/leaderboard"))
            assert_unavailable(client.get("/api/trades"))
            # The live stream says so too (1013: try again later); the page reconnects.
            with connect(base.replace("http://", "ws://") + "/ws?since=0", proxy=None) as ws:
                assert json.loads(ws.recv(timeout=10))["type"] == "hello"
                with pytest.raises(ConnectionClosedError) as closed:
                    ws.recv(timeout=10)
                assert closed.value.rcvd is not None and closed.value.rcvd.code == 1013
            for p, content in saved.items():
                p.write_bytes(content)
            _zero(shm)
            back = until(client, "/api/leaderboard", 200, within=30)
            assert back.status_code == 200, back.text
            assert back.json()["items"][0]["cycle"] == 3
    finally:
        reader.close()
