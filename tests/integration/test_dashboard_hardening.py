"""The dashboard as a careful server: where it redirects, what parameters it takes, which
names it answers to, and how large its answers get. Real uvicorn, real HTTP and
WebSocket clients, SQLite and PostgreSQL."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from mytrader.adapters.store.db import ArenaStore
from mytrader.adapters.store.reads import ArenaReader
from mytrader.app.storage import open_reader
from mytrader.config import ConfigError, Settings, load_settings
from mytrader.domain.models import AgentDecision
from mytrader.web.app import DashboardConfig, create_app
from mytrader.web.bounds import PAGE_BYTES, TEXT_CHARS
from mytrader.web.serve import build
from tests.dashboard_support import cycle_record, live_server, seed, serve_process
from tests.helpers import clean_env

ARENA = "arena"
TOKEN = "t0ken-" + "ab" * 12
INT64_MAX = 2**63 - 1


def ws_as(base: str, host: str, origin: str | None = None) -> Any:
    """A WebSocket to `base`'s /ws that calls the server `host` (in Host and the URL)."""
    address, port = base.removeprefix("http://").rsplit(":", 1)
    sock = socket.create_connection((address, int(port)), timeout=10)
    return connect(f"ws://{host}/ws", sock=sock, origin=origin, proxy=None)  # type: ignore[arg-type]


def raw_get(base: str, target: str, host: str | None = None) -> tuple[int, dict[str, str]]:
    """GET `target` exactly as written (no client normalises it): status and headers."""
    hostport = base.removeprefix("http://")
    address, port = hostport.rsplit(":", 1)
    with socket.create_connection((address, int(port)), timeout=10) as s:
        request = f"GET {target} HTTP/1.1\r\nHost: {host or hostport}\r\nConnection: close\r\n\r\n"
        s.sendall(request.encode("latin-1"))
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    head = data.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in head[1:] if ": " in line)
    return int(head[0].split()[1]), {k.lower(): v for k, v in headers.items()}


@pytest.fixture
def reader(settings: Settings, store: ArenaStore) -> Iterator[ArenaReader]:
    r = open_reader(settings)
    assert isinstance(r, ArenaReader)
    try:
        yield r
    finally:
        r.close()


@pytest.fixture
def served(reader: ArenaReader, store: ArenaStore) -> Iterator[str]:
    """A loopback dashboard (no token) over a few recorded cycles."""
    seed(store, ARENA, 1, 3)
    with live_server(create_app(reader, DashboardConfig(default_arena=ARENA))) as base:
        yield base


# --- the ?token= login redirects only to a path of its own ------------------------------


@pytest.mark.parametrize(
    "target",
    [
        "//evil.example",
        "/%2fevil.example",
        "/%2Fevil.example",
        "/%09/evil.example",
        "/\\evil.example",
        "/%5cevil.example",
        "/./evil.example/..",
        "/%0d%0aLocation:%20http://evil.example",
    ],
)
def test_token_login_never_redirects_off_site(reader: ArenaReader, target: str) -> None:
    config = DashboardConfig(default_arena=ARENA, token=TOKEN)
    with live_server(create_app(reader, config)) as base:
        status, headers = raw_get(base, f"{target}?token={TOKEN}&arena={ARENA}")
        assert status == 303
        assert headers["location"] == f"/?arena={ARENA}"
        assert "mytrader_token=" in headers["set-cookie"]
        # A plain path of its own is kept.
        status, headers = raw_get(base, f"/static/app.js?token={TOKEN}")
        assert (status, headers["location"]) == (303, "/static/app.js")


# --- one validator for every query parameter -------------------------------------------

BAD = [
    ("/api/trades", {"before": "²:1"}, "before"),
    ("/api/trades", {"before": "1:²"}, "before"),
    ("/api/trades", {"before": "1:99999999999999999999"}, "before"),
    ("/api/trades", {"before": "9" * 5000 + ":1"}, "before"),
    ("/api/trades", {"before": "1:-1"}, "before"),
    ("/api/logs", {"before": "1:" + "9" * 5000}, "before"),
    ("/api/votes", {"before": "x"}, "before"),
    ("/api/usage", {"before": "10000000000000000000"}, "before"),
    ("/api/usage", {"before": "10000000000000000000:grok"}, "before"),
    ("/api/arenas", {"offset": "10000000000000000000"}, "offset"),
    ("/api/arenas", {"offset": "-1"}, "offset"),
    ("/api/leaderboard", {"offset": "-1"}, "offset"),
    ("/api/positions", {"offset": "-1"}, "offset"),
    ("/api/trades", {"limit": "+5"}, "limit"),
    ("/api/trades", {"limit": "5_0"}, "limit"),
    ("/api/trades", {"limit": " 5"}, "limit"),
    ("/api/trades", {"limit": "٥"}, "limit"),  # ARABIC-INDIC DIGIT FIVE
    ("/api/trades", {"limit": "501"}, "limit"),
    ("/api/cycles", {"after": "-5"}, "after"),
    ("/api/cycles", {"after": "9223372036854775808"}, "after"),
    ("/api/equity", {"points": "1"}, "points"),
    ("/api/overview", {"recent": "51"}, "recent"),
    ("/api/trades", {"arena": "a\x00b"}, "arena"),
    ("/api/logs", {"agent": "x" * 101}, "agent"),
    ("/api/trades", {"status": "\u202efilled"}, "status"),
    ("/api/logs/0", {}, "log_id"),
    ("/api/logs/99999999999999999999", {}, "log_id"),
    ("/api/trades/²", {}, "trade_id"),
]


def test_every_bad_parameter_is_a_422_naming_it(served: str) -> None:
    """Never a 500, and the connection stays usable for the next request."""
    with httpx.Client(base_url=served, timeout=30) as client:
        for path, params, name in BAD:
            res = client.get(path, params=params)
            assert res.status_code == 422, (path, params, res.status_code, res.text[:200])
            detail = res.json()["detail"]
            assert isinstance(detail, str) and detail.startswith(f"{name}: "), detail
            assert len(res.content) < 500  # the value is not echoed back
            assert client.get("/api/arenas").status_code == 200


def test_parameters_at_their_bounds_are_served(served: str) -> None:
    with httpx.Client(base_url=served, timeout=30) as client:

        def ok(path: str, **params: Any) -> Any:
            res = client.get(path, params=params)
            assert res.status_code == 200, (path, params, res.text[:200])
            return res.json()

        top = f"{INT64_MAX}:{INT64_MAX}"
        assert len(ok("/api/trades", before=top, limit=500)["items"]) == 3
        assert len(ok("/api/logs", before=top)["items"]) > 0
        assert len(ok("/api/usage", before=f"{INT64_MAX}:grok")["items"]) > 0
        assert ok("/api/cycles", after=INT64_MAX - 1, limit=500)["items"] == []
        assert ok("/api/cycles", after=2)["items"][0]["cycle"] == 3
        assert ok("/api/arenas", offset=INT64_MAX)["items"] == []
        assert ok("/api/leaderboard", offset=INT64_MAX)["items"] == []
        assert ok("/api/trades", arena="")["arena"] == ARENA  # empty: the default
        assert client.get(f"/api/logs/{INT64_MAX}").status_code == 404


def test_websocket_since_is_parsed_by_the_same_rules(served: str) -> None:
    ws = served.replace("http://", "ws://")
    for since in ("²", "-1", "9" * 5000):
        with pytest.raises(InvalidStatus) as refused:
            connect(f"{ws}/ws?since={since}", proxy=None)
        assert refused.value.response.status_code == 403, since
    with connect(f"{ws}/ws?since={INT64_MAX}", proxy=None) as c:
        assert json.loads(c.recv(timeout=10))["type"] == "hello"
        assert json.loads(c.recv(timeout=10)) == {"type": "reset", "last": 3}


# --- on loopback, only loopback names (and DASHBOARD_ALLOWED_HOSTS) ----------------------


def test_loopback_dashboard_refuses_other_names(served: str) -> None:
    """DNS rebinding: a page of rebind.evil.example resolved to 127.0.0.1 calls the
    dashboard by its own name, in Host and in a WebSocket's Origin."""
    port = served.rsplit(":", 1)[1]
    for host in ("rebind.evil.example", f"rebind.evil.example:{port}", "127.0.0.1.evil.example"):
        status, _ = raw_get(served, "/api/arenas", host=host)
        assert status == 400, host
        status, _ = raw_get(served, "/", host=host)
        assert status == 400, host
    for host in (f"127.0.0.1:{port}", f"localhost:{port}", "LOCALHOST.", "127.9.8.7", "[::1]"):
        status, _ = raw_get(served, "/api/arenas", host=host)
        assert status == 200, host
    with httpx.Client(base_url=served) as client:
        evil = {"Origin": f"http://rebind.evil.example:{port}"}
        assert client.get("/api/arenas", headers=evil).status_code == 403
        assert client.get("/api/arenas", headers={"Origin": "null"}).status_code == 403
        own = {"Origin": f"http://127.0.0.1:{port}"}
        assert client.get("/api/arenas", headers=own).status_code == 200

    rebound = f"rebind.evil.example:{port}"
    with pytest.raises(InvalidStatus) as refused:
        ws_as(served, rebound, origin=f"http://{rebound}")
    assert refused.value.response.status_code == 400
    with ws_as(served, f"127.0.0.1:{port}", origin=f"http://127.0.0.1:{port}") as c:
        assert json.loads(c.recv(timeout=10))["type"] == "hello"


@pytest.mark.slow
def test_allowed_hosts_setting_names_more(tmp_path: Path) -> None:
    """`mytrader serve` with DASHBOARD_ALLOWED_HOSTS: those names too, and still no other."""
    home = tmp_path / "home"
    home.mkdir()
    with ArenaStore.sqlite(home / "arena.sqlite") as store:
        seed(store, ARENA, 1, 1)
    env = {**clean_env(), "MYTRADER_HOME": str(home), "DASHBOARD_ALLOWED_HOSTS": "MyBox.Local."}
    with serve_process(env) as base:
        port = base.rsplit(":", 1)[1]
        assert raw_get(base, "/api/arenas", host=f"mybox.local:{port}")[0] == 200
        assert raw_get(base, "/api/arenas", host="rebind.evil.example")[0] == 400
        mybox = f"mybox.local:{port}"
        with ws_as(base, mybox, origin=f"http://{mybox}") as c:
            assert json.loads(c.recv(timeout=10))["type"] == "hello"
    with serve_process({**env, "DASHBOARD_ALLOWED_HOSTS": ""}) as base:
        assert raw_get(base, "/api/arenas", host="mybox.local")[0] == 400


def test_allowed_hosts_setting_is_validated() -> None:
    for bad in ("mybox.local:8000", "http://mybox.local", "a b", "evil/x", "a..b"):
        with pytest.raises(ConfigError, match="DASHBOARD_ALLOWED_HOSTS"):
            load_settings(dashboard_allowed_hosts=bad, _env_file=None)
    settings = load_settings(dashboard_allowed_hosts=" MyBox.Local., [FE80::1] ", _env_file=None)
    assert settings.dashboard_hosts == ("mybox.local", "fe80::1")


# --- answers bounded in bytes; the full text one request away ----------------------------

LONG = 150_000


def long_text(agent: str, cycle: int) -> str:
    return f"{agent}@{cycle} " + "é" * LONG


def test_long_answers_are_cut_and_pages_bounded(settings: Settings, store: ArenaStore) -> None:
    cycles = 12
    for cycle in range(1, cycles + 1):
        reasoning = {a: long_text(a, cycle) for a in ("grok", "deepseek", "openai")}
        store.record_cycle(cycle_record(ARENA, cycle, reasoning=reasoning))
    app, _ = build(settings)
    with live_server(app) as base, httpx.Client(base_url=base, timeout=60) as client:
        # A page of logs: within the byte bound, each long text cut with its marker.
        page = client.get("/api/logs", params={"kind": "DECISION", "limit": 500})
        assert page.status_code == 200 and len(page.content) < PAGE_BYTES + 64 * 1024
        first = next(r for r in page.json()["items"] if r["agent"] != "collaborative")
        assert len(first["content"]) < TEXT_CHARS + 100 and "more characters]" in first["content"]
        # ... and the full text one request away.
        full = client.get(first["full"]).json()
        said = AgentDecision.model_validate_json(full["content"]).decision.reasoning
        assert said == long_text(full["agent"], full["cycle"])

        # Walking the pages sends every entry once.
        seen: list[int] = []
        cursor = None
        while True:
            params: dict[str, Any] = {"kind": "DECISION", "limit": 500}
            if cursor:
                params["before"] = cursor
            res = client.get("/api/logs", params=params)
            assert len(res.content) < PAGE_BYTES + 64 * 1024
            seen += [r["id"] for r in res.json()["items"]]
            cursor = res.json()["next"]
            if cursor is None:
                break
        assert len(seen) == len(set(seen)) == cycles * 4  # three agents and the vote

        # The page's own reads: agents, overview, cycles, the live stream.
        agents = client.get("/api/agents").json()["agents"]
        grok = agents["grok"]["decision"]
        assert len(grok["decision"]["reasoning"]) < TEXT_CHARS + 100
        full = client.get(grok["full"]).json()
        assert json.loads(full["content"])["decision"]["reasoning"] == long_text("grok", cycles)
        overview = client.get("/api/overview", params={"recent": 50})
        assert overview.status_code == 200 and len(overview.content) < 2 * PAGE_BYTES
        page = client.get("/api/cycles", params={"limit": 500})
        assert len(page.content) < PAGE_BYTES + 64 * 1024
        ws = base.replace("http://", "ws://") + "/ws?since=0"
        with connect(ws, proxy=None, max_size=64 * 1024) as c:
            messages = [json.loads(c.recv(timeout=10)) for _ in range(1 + cycles)]
        bundle = messages[-1]
        assert bundle["type"] == "cycle" and bundle["cycle"] == cycles
        assert bundle["decisions"]["openai"]["full"].startswith("/api/logs/")
