"""The dashboard's web app: a read-only JSON API, one page, and the live WebSocket.

Everything is read from the arena's tables through `ArenaReader` (never from the
checkpoints of a running cycle). Lists are keyset-paged, newest first: a page's `next`
goes back as `before` for the following page. No setting is ever served.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

from anyio import to_thread
from fastapi import FastAPI, HTTPException, Query, Request, Response, WebSocket, WebSocketDisconnect
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel

from mytrader.config import COLLABORATIVE
from mytrader.leaderboard import Standing, standings
from mytrader.store.reads import ArenaReader
from mytrader.web import auth
from mytrader.web.live import MAX_CATCHUP, Watcher, cycle_bundles, parse_json

STATIC = Path(__file__).parent / "static"
# The page runs only its own files: an injected <script> or inline handler would not run.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:;"
    " connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)
# A quiet stream still sends a ping this often, so dead connections are noticed.
PING_S = 20.0

Arena = Annotated[str | None, Query(description="The arena id; default: the served ARENA_ID.")]
Limit = Annotated[int, Query(ge=1, le=500)]
Cursor = Annotated[str | None, Query(description="A page's `next`: `<cycle>:<id>`.")]


class Page(BaseModel):
    """One page of a list, newest first; pass `next` as `before` for the following one."""

    arena: str
    items: list[dict[str, Any]]
    next: int | str | None = None  # the cursor of the following page, None at the end


class Equity(BaseModel):
    """Cycles kept (every `step`-th, and both ends), their dates, each account's equity
    at them, and the benchmark's close (None before the benchmark was recorded)."""

    arena: str
    step: int
    cycles: list[int]
    as_of: list[str]
    equity: dict[str, list[str | None]]
    benchmark: dict[str, Any] | None


class Leaderboard(BaseModel):
    arena: str
    items: list[Standing]


class Arenas(BaseModel):
    default: str
    items: list[dict[str, Any]]


@dataclass
class DashboardConfig:
    default_arena: str
    token: str | None = None  # required on every request when set
    listen_url: str | None = None  # PostgreSQL: LISTEN for cycles here; None: poll
    poll_s: float = 0.2  # SQLite: watermark poll interval
    reconcile_s: float = 5.0  # PostgreSQL: poll after this long without a NOTIFY


def create_app(reader: ArenaReader, config: DashboardConfig) -> FastAPI:
    watcher = Watcher(
        reader,
        listen_url=config.listen_url,
        poll_s=config.poll_s,
        reconcile_s=config.reconcile_s,
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await watcher.poll_once()
        task = asyncio.create_task(watcher.run())
        # Sum the served arena's LLM usage and read its equity series now, not in the
        # first visitor's request.
        warm = asyncio.create_task(to_thread.run_sync(_warm, reader, config.default_arena))
        try:
            yield
        finally:
            for t in (task, warm):
                t.cancel()
                with contextlib.suppress(Exception, asyncio.CancelledError):
                    await t

    app = FastAPI(
        title="MyTrader dashboard",
        description="The arena's standings, equity, books, orders, agent logs, votes and "
        "LLM usage, read-only; live cycles on the WebSocket `/ws?arena=&since=`.",
        version="1",
        lifespan=lifespan,
        # FastAPI's /docs and /redoc pages load their scripts from a CDN: the description
        # is served as /openapi.json only.
        docs_url=None,
        redoc_url=None,
    )
    app.state.watcher = watcher

    def arena_of(arena: str | None) -> str:
        return arena or config.default_arena

    @app.middleware("http")
    async def guard(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        token = config.token
        if token is not None:
            offered = request.query_params.get("token")
            if offered is not None and request.method == "GET":
                if not auth.matches(offered, token):
                    return _unauthorized()
                rest = [(k, v) for k, v in request.query_params.multi_items() if k != "token"]
                target = request.url.path + (f"?{urlencode(rest)}" if rest else "")
                answer = RedirectResponse(target, status_code=303)
                answer.set_cookie(auth.COOKIE, token, httponly=True, samesite="strict", path="/")
                return answer
            if not auth.matches(auth.presented(request.headers, request.cookies), token):
                return _unauthorized()
        response = await call_next(request)
        response.headers["Content-Security-Policy"] = CSP
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        return response

    @app.get("/", include_in_schema=False)
    def page() -> FileResponse:
        return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-store"})

    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/api/arenas", response_model=Arenas, summary="Every arena with recorded cycles")
    def arenas(limit: Limit = 100, offset: Annotated[int, Query(ge=0)] = 0) -> Arenas:
        return Arenas(default=config.default_arena, items=reader.arenas(limit, offset))

    @app.get("/api/leaderboard", response_model=Leaderboard, summary="`mytrader leaderboard`")
    def leaderboard(arena: Arena = None, limit: Limit = 100, offset: int = 0) -> Leaderboard:
        name = arena_of(arena)
        rows = standings(reader.latest_books(name), reader.usage_totals(name))
        return Leaderboard(arena=name, items=rows[offset : offset + limit])

    @app.get(
        "/api/equity",
        response_model=Equity,
        summary="Equity per account and the benchmark, downsampled",
    )
    def equity(arena: Arena = None, points: Annotated[int, Query(ge=2, le=5000)] = 500) -> Response:
        name = arena_of(arena)
        return _json({"arena": name, **reader.equity_series(name, points)})

    @app.get("/api/positions", response_model=Page, summary="Each book at its last cycle")
    def positions(arena: Arena = None, limit: Limit = 100, offset: int = 0) -> Page:
        name = arena_of(arena)
        books = [s.model_dump(mode="json") for s in reader.latest_books(name)]
        return Page(arena=name, items=books[offset : offset + limit])

    @app.get("/api/trades", response_model=Page, summary="Order legs: fills and refusals")
    def trades(
        arena: Arena = None,
        account: str | None = None,
        status: str | None = None,
        before: Cursor = None,
        limit: Limit = 50,
    ) -> Response:
        name = arena_of(arena)
        rows = reader.trades_page(
            name, account=account, status=status, before=_cursor(before), limit=limit
        )
        return _page(name, rows, limit)

    @app.get("/api/logs", response_model=Page, summary="THOUGHT, CRITIQUE and DECISION logs")
    def logs(
        arena: Arena = None,
        agent: str | None = None,
        kind: str | None = None,
        before: Cursor = None,
        limit: Limit = 50,
    ) -> Response:
        name = arena_of(arena)
        rows = reader.logs_page(name, agent=agent, kind=kind, before=_cursor(before), limit=limit)
        return _page(name, rows, limit)

    @app.get("/api/votes", response_model=Page, summary="The collaborative votes")
    def votes(arena: Arena = None, before: Cursor = None, limit: Limit = 50) -> Response:
        name = arena_of(arena)
        rows = reader.logs_page(
            name, agent=COLLABORATIVE, kind="DECISION", before=_cursor(before), limit=limit
        )
        items = [{"id": r["id"], "cycle": r["cycle"], **parse_json(r["content"])} for r in rows]
        return _page(name, rows, limit, items)

    @app.get("/api/usage", summary="LLM calls, tokens and cost: totals and per cycle")
    def usage(
        arena: Arena = None,
        agent: str | None = None,
        before: Annotated[
            str | None, Query(description="`<cycle>:<agent>`, a page's `next`")
        ] = None,
        limit: Limit = 50,
    ) -> dict[str, Any]:
        name = arena_of(arena)
        cursor = None
        if before:
            cycle, _, who = before.partition(":")
            cursor = (int(cycle), who) if cycle.isdigit() else None
        rows = reader.usage_page(name, agent=agent, before=cursor, limit=limit)
        totals = [u.model_dump(mode="json") for u in reader.usage_totals(name).values()]
        nxt = f"{rows[-1]['cycle']}:{rows[-1]['agent']}" if len(rows) == limit else None
        return {"arena": name, "totals": totals, "items": rows, "next": nxt}

    @app.get("/api/agents", summary="Each agent's latest decision and critique, the last vote")
    def agents(arena: Arena = None) -> dict[str, Any]:
        name = arena_of(arena)
        with reader.session():
            return _agents(name)

    def _agents(name: str) -> dict[str, Any]:
        out: dict[str, dict[str, Any]] = {}
        vote = None
        for row in reader.latest_logs(name, "DECISION"):
            if row["agent"] == COLLABORATIVE:
                vote = {"cycle": row["cycle"], **parse_json(row["content"])}
            else:
                out.setdefault(row["agent"], {})["decision"] = {
                    "cycle": row["cycle"],
                    **parse_json(row["content"]),
                }
        for row in reader.latest_logs(name, "CRITIQUE"):
            out.setdefault(row["agent"], {})["critique"] = {
                "cycle": row["cycle"],
                "text": row["content"],
            }
        return {"arena": name, "agents": dict(sorted(out.items())), "vote": vote}

    @app.get("/api/overview", summary="All the page's first view needs, in one request")
    def overview(
        arena: Arena = None,
        points: Annotated[int, Query(ge=2, le=5000)] = 500,
        trades: Limit = 50,
        recent: Annotated[int, Query(ge=0, le=50)] = 8,
    ) -> Response:
        """The arenas, and for one arena: the leaderboard, the equity series, the agents'
        latest decisions, the books, the first page of orders and the last `recent` cycles.
        One request instead of seven: the first paint waits for one round trip."""
        name = arena_of(arena)
        with reader.session():
            return _overview(name, points, trades, recent)

    def _overview(name: str, points: int, trades: int, recent: int) -> Response:
        series = reader.equity_series(name, points)
        last = series["cycles"][-1] if series["cycles"] else 0
        books = reader.latest_books(name)
        legs = reader.trades_page(name, limit=trades)
        nxt = f"{legs[-1]['cycle']}:{legs[-1]['id']}" if len(legs) == trades else None
        return _json(
            {
                "arena": name,
                "arenas": {"default": config.default_arena, "items": reader.arenas(500)},
                "leaderboard": [
                    s.model_dump(mode="json") for s in standings(books, reader.usage_totals(name))
                ],
                "equity": {"arena": name, **series},
                "agents": _agents(name),
                "positions": [b.model_dump(mode="json") for b in books],
                "trades": {"items": legs, "next": nxt},
                "recent": cycle_bundles(reader, name, max(0, last - recent), last),
            }
        )

    @app.get("/api/cycles", response_model=Page, summary="Recorded cycles after `after`")
    def cycles(arena: Arena = None, after: int = 0, limit: Limit = 50) -> Response:
        name = arena_of(arena)
        rows = cycle_bundles(reader, name, after, after + limit)
        nxt = rows[-1]["cycle"] if len(rows) == limit else None
        return _json({"arena": name, "items": rows, "next": nxt})

    @app.websocket("/ws")
    async def stream(websocket: WebSocket, arena: str | None = None, since: int = 0) -> None:
        """Every cycle after `since`, then each new one as it is recorded."""
        if config.token is not None and not auth.matches(
            auth.presented(websocket.headers, websocket.cookies), config.token
        ):
            await websocket.send_denial_response(_unauthorized())
            return
        if not auth.same_origin(websocket.headers):
            await websocket.send_denial_response(JSONResponse({"detail": "origin"}, 403))
            return
        await websocket.accept()
        name = arena_of(arena)
        pump = asyncio.create_task(_pump(websocket, watcher, name, since))
        drain = asyncio.create_task(_drain(websocket))
        done, pending = await asyncio.wait({pump, drain}, return_when=asyncio.FIRST_COMPLETED)
        for task in pending:
            task.cancel()
        for task in (*done, *pending):
            with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect, RuntimeError):
                await task

    return app


async def _pump(websocket: WebSocket, watcher: Watcher, arena: str, since: int) -> None:
    last = max(0, since)
    if watcher.mark(arena) < last:  # the page read a cycle the last poll did not see yet
        await watcher.poll_once()
    mark = watcher.mark(arena)
    await websocket.send_json({"type": "hello", "arena": arena, "last": mark})
    if mark < last:  # the arena was reset behind the page's back
        await websocket.send_json({"type": "reset", "last": mark})
        return
    while True:
        mark = watcher.mark(arena)
        if mark > last:
            if mark - last > MAX_CATCHUP:
                await websocket.send_json({"type": "reset", "last": mark})
                return
            bundles = await watcher.bundles(arena, last, mark)
            if not bundles:  # cycle numbers with nothing recorded: move past them
                last = min(mark, last + 100)
            for b in bundles:
                await websocket.send_json(b)
                last = b["cycle"]
        elif not await watcher.wait_past(arena, last, PING_S):
            await websocket.send_json({"type": "ping", "last": last})


async def _drain(websocket: WebSocket) -> None:
    """Read (and ignore) what the client sends, to notice when it goes away."""
    while True:
        await websocket.receive_text()


def _warm(reader: ArenaReader, arena: str) -> None:
    reader.usage_totals(arena)
    reader.equity_series(arena)


def _unauthorized() -> JSONResponse:
    return JSONResponse(
        {"detail": "a valid DASHBOARD_TOKEN is required"},
        status_code=401,
        headers={"WWW-Authenticate": "Bearer"},
    )


def _json(payload: dict[str, Any]) -> Response:
    """Rows are JSON-able already (money as strings): skip FastAPI's re-encoding, which
    costs more than the query on a long equity series."""
    return Response(json.dumps(payload, separators=(",", ":")), media_type="application/json")


def _cursor(before: str | None) -> tuple[int, int] | None:
    if not before:
        return None
    cycle, _, row = before.partition(":")
    if not (cycle.isdigit() and row.isdigit()):
        raise HTTPException(422, "before: expected a page's `next`, `<cycle>:<id>`")
    return int(cycle), int(row)


def _page(
    arena: str, rows: list[dict[str, Any]], limit: int, items: list[dict[str, Any]] | None = None
) -> Response:
    """A page of a (cycle, id)-ordered list; `next` is the last row's cursor."""
    nxt = f"{rows[-1]['cycle']}:{rows[-1]['id']}" if len(rows) == limit else None
    return _json({"arena": arena, "items": rows if items is None else items, "next": nxt})
