"""The dashboard's web app: a read-only JSON API, one page, and the live WebSocket.

Everything is read from the arena's tables through `ArenaReader` (never from the
checkpoints of a running cycle). Lists are keyset-paged, newest first: a page's `next`
goes back as `before` for the following page. No setting is ever served.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

from anyio import to_thread
from fastapi import (
    Depends,
    FastAPI,
    HTTPException,
    Request,
    Response,
    WebSocket,
    WebSocketDisconnect,
)
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel

from mytrader.config import COLLABORATIVE
from mytrader.leaderboard import Standing, standings
from mytrader.store.db import StoreError
from mytrader.store.reads import ArenaReader
from mytrader.web import auth
from mytrader.web.bounds import (
    PAGE_BYTES,
    clipped,
    fitting,
    log_url,
    newest_fitting,
    page_json,
    shown,
    trade_url,
)
from mytrader.web.live import MAX_CATCHUP, Watcher, cycle_bundles, parse_json
from mytrader.web.params import (
    INT64_MAX,
    After,
    Arena,
    Limit,
    Name,
    Offset,
    Points,
    Recent,
    RowId,
    agent_cursor,
    messages,
    row_cursor,
)

STATIC = Path(__file__).parent / "static"
# The page runs only its own files: an injected <script> or inline handler would not run.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:;"
    " connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)
# A quiet stream still sends a ping this often, so dead connections are noticed.
PING_S = 20.0

# Seconds a client waits before asking again while the database is down.
RETRY_AFTER_S = 5
RowCursor = Annotated[tuple[int, int] | None, Depends(row_cursor)]
AgentCursor = Annotated[tuple[int, str] | None, Depends(agent_cursor)]

log = logging.getLogger(__name__)


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
    # Names answered besides loopback ones (DASHBOARD_ALLOWED_HOSTS); None: any name,
    # for a dashboard served beyond loopback (the token guards it there).
    allowed_hosts: frozenset[str] | None = frozenset()

    @property
    def access(self) -> auth.Access:
        return auth.Access(token=self.token, hosts=self.allowed_hosts)


def create_app(reader: ArenaReader, config: DashboardConfig) -> FastAPI:
    watcher = Watcher(
        reader,
        listen_url=config.listen_url,
        poll_s=config.poll_s,
        reconcile_s=config.reconcile_s,
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        with contextlib.suppress(StoreError):  # down now: the watcher retries
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
    app.add_exception_handler(RequestValidationError, _invalid)
    app.add_exception_handler(StoreError, _unavailable)

    def arena_of(arena: str | None) -> str:
        return arena or config.default_arena

    @app.middleware("http")
    async def guard(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        access = config.access
        refused = auth.wrong_name(access.hosts, request.headers)
        offered = request.query_params.get("token")
        if refused is None and access.token is not None:
            if offered is not None and request.method == "GET":
                return _login(request, offered, access.token)
            refused = auth.refusal(access, request.headers, request.cookies, websocket=False)
        if refused is not None:
            return refused
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
    def arenas(limit: Limit = 100, offset: Offset = 0) -> Response:
        return _json({"default": config.default_arena, "items": reader.arenas(limit, offset)})

    @app.get("/api/leaderboard", response_model=Leaderboard, summary="`mytrader leaderboard`")
    def leaderboard(arena: Arena = None, limit: Limit = 100, offset: Offset = 0) -> Response:
        name = arena_of(arena)
        rows = standings(reader.latest_books(name), reader.usage_totals(name))
        items = [s.model_dump(mode="json") for s in rows[offset : offset + limit]]
        return _json({"arena": name, "items": items})

    @app.get(
        "/api/equity",
        response_model=Equity,
        summary="Equity per account and the benchmark, downsampled",
    )
    def equity(arena: Arena = None, points: Points = 500) -> Response:
        name = arena_of(arena)
        return _json({"arena": name, **reader.equity_series(name, points)})

    @app.get("/api/positions", response_model=Page, summary="Each book at its last cycle")
    def positions(arena: Arena = None, limit: Limit = 100, offset: Offset = 0) -> Response:
        name = arena_of(arena)
        books = [s.model_dump(mode="json") for s in reader.latest_books(name)]
        return _json({"arena": name, "items": books[offset : offset + limit], "next": None})

    @app.get("/api/trades", response_model=Page, summary="Order legs: fills and refusals")
    def trades(
        before: RowCursor,
        arena: Arena = None,
        account: Name = None,
        status: Name = None,
        limit: Limit = 50,
    ) -> Response:
        name = arena_of(arena)
        rows = reader.trades_page(name, account=account, status=status, before=before, limit=limit)
        return _page(name, rows, limit, [_trade(r) for r in rows])

    @app.get("/api/trades/{trade_id}", summary="One order leg, its texts in full")
    def trade(trade_id: RowId) -> Response:
        return _json(_found(reader.trade_row(trade_id), "trade"))

    @app.get("/api/logs", response_model=Page, summary="THOUGHT, CRITIQUE and DECISION logs")
    def logs(
        before: RowCursor,
        arena: Arena = None,
        agent: Name = None,
        kind: Name = None,
        limit: Limit = 50,
    ) -> Response:
        name = arena_of(arena)
        rows = reader.logs_page(name, agent=agent, kind=kind, before=before, limit=limit)
        return _page(name, rows, limit, [shown(r, log_url(r["id"])) for r in rows])

    @app.get("/api/logs/{log_id}", summary="One log entry, its content in full")
    def log_entry(log_id: RowId) -> Response:
        return _json(_found(reader.log_entry(log_id), "log entry"))

    @app.get("/api/votes", response_model=Page, summary="The collaborative votes")
    def votes(before: RowCursor, arena: Arena = None, limit: Limit = 50) -> Response:
        name = arena_of(arena)
        rows = reader.logs_page(
            name, agent=COLLABORATIVE, kind="DECISION", before=before, limit=limit
        )
        items = [_logged(r, {"id": r["id"], "cycle": r["cycle"]}) for r in rows]
        return _page(name, rows, limit, items)

    @app.get("/api/usage", summary="LLM calls, tokens and cost: totals and per cycle")
    def usage(
        before: AgentCursor, arena: Arena = None, agent: Name = None, limit: Limit = 50
    ) -> Response:
        name = arena_of(arena)
        rows = reader.usage_page(name, agent=agent, before=before, limit=limit)
        totals = [u.model_dump(mode="json") for u in reader.usage_totals(name).values()]
        head = {"arena": name, "totals": clipped(totals)[0]}
        items = [clipped(r)[0] for r in rows]
        return Response(
            page_json(head, rows, limit, lambda r: f"{r['cycle']}:{r['agent']}", items),
            media_type="application/json",
        )

    @app.get("/api/agents", summary="Each agent's latest decision and critique, the last vote")
    def agents(arena: Arena = None) -> Response:
        name = arena_of(arena)
        with reader.session():
            return _json(_agents(name))

    def _agents(name: str) -> dict[str, Any]:
        out: dict[str, dict[str, Any]] = {}
        vote = None
        for row in reader.latest_logs(name, "DECISION"):
            if row["agent"] == COLLABORATIVE:
                vote = _logged(row, {"cycle": row["cycle"]})
            else:
                out.setdefault(row["agent"], {})["decision"] = _logged(row, {"cycle": row["cycle"]})
        for row in reader.latest_logs(name, "CRITIQUE"):
            critique = {"cycle": row["cycle"], "text": row["content"]}
            out.setdefault(row["agent"], {})["critique"] = shown(critique, log_url(row["id"]))
        return {"arena": name, "agents": dict(sorted(out.items())), "vote": vote}

    @app.get("/api/overview", summary="All the page's first view needs, in one request")
    def overview(
        arena: Arena = None,
        points: Points = 500,
        trades: Limit = 50,
        recent: Recent = 8,
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
        # The orders and the recent cycles share the page's byte bound.
        shown_legs = [_trade(r) for r in legs]
        sent = len(fitting(shown_legs, PAGE_BYTES // 2))
        more = sent < len(legs) or len(legs) == trades
        nxt = f"{legs[sent - 1]['cycle']}:{legs[sent - 1]['id']}" if more and sent else None
        bundles = cycle_bundles(reader, name, max(0, last - recent), last)
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
                "trades": {"items": shown_legs[:sent], "next": nxt},
                "recent": newest_fitting(bundles, PAGE_BYTES // 2) if bundles else [],
            }
        )

    @app.get("/api/cycles", response_model=Page, summary="Recorded cycles after `after`")
    def cycles(arena: Arena = None, after: After = 0, limit: Limit = 50) -> Response:
        name = arena_of(arena)
        rows = cycle_bundles(reader, name, after, min(after + limit, INT64_MAX))
        return _page(name, rows, limit, cursor=lambda b: b["cycle"])

    @app.websocket("/ws")
    async def stream(websocket: WebSocket, arena: Arena = None, since: After = 0) -> None:
        """Every cycle after `since`, then each new one as it is recorded."""
        refused = auth.refusal(config.access, websocket.headers, websocket.cookies, True)
        if refused is not None:
            await websocket.send_denial_response(refused)
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
                try:
                    await task
                except StoreError as exc:  # the page reconnects, and catches up, later
                    log.warning("live stream: %s", exc)
                    await websocket.close(code=1013, reason="database unavailable")

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


def _login(request: Request, offered: str, token: str) -> Response:
    """`?token=`: the cookie, and a redirect to the same page of this site without it."""
    if not auth.matches(offered, token):
        return auth.unauthorized()
    rest = [(k, v) for k, v in request.query_params.multi_items() if k != "token"]
    target = auth.local_target(request.scope["path"]) + (f"?{urlencode(rest)}" if rest else "")
    answer = RedirectResponse(target, status_code=303)
    answer.set_cookie(auth.COOKIE, token, httponly=True, samesite="strict", path="/")
    return answer


def _warm(reader: ArenaReader, arena: str) -> None:
    reader.usage_totals(arena)
    reader.equity_series(arena)


async def _invalid(request: Request, exc: Exception) -> JSONResponse:
    """A bad parameter: 422 with one line naming it (FastAPI's default echoes the value)."""
    assert isinstance(exc, RequestValidationError)
    return JSONResponse({"detail": messages(exc.errors())}, status_code=422)


async def _unavailable(request: Request, exc: Exception) -> JSONResponse:
    """The database is down or unreadable: say so, and that it is worth asking again.
    The store's message (a path, or a masked URL) goes to the server's log only."""
    log.warning("dashboard read failed: %s", exc)
    return JSONResponse(
        {"detail": "the arena's database cannot be read right now; try again shortly"},
        status_code=503,
        headers={"Retry-After": str(RETRY_AFTER_S)},
    )


def _json(payload: dict[str, Any]) -> Response:
    """Rows are JSON-able already (money as strings): skip FastAPI's re-encoding, which
    costs more than the query on a long equity series."""
    return Response(json.dumps(payload, separators=(",", ":")), media_type="application/json")


def _found(row: dict[str, Any] | None, what: str) -> dict[str, Any]:
    if row is None:
        raise HTTPException(404, f"no such {what}")
    return row


def _trade(row: dict[str, Any]) -> dict[str, Any]:
    return shown(row, trade_url(row["id"]))


def _logged(row: dict[str, Any], head: dict[str, Any]) -> dict[str, Any]:
    """A DECISION log as served: `head`, then its parsed JSON, long texts cut."""
    return shown({**head, **parse_json(row["content"])}, log_url(row["id"]))


def _page(
    arena: str,
    rows: list[dict[str, Any]],
    limit: int,
    items: list[dict[str, Any]] | None = None,
    cursor: Callable[[dict[str, Any]], object] = lambda r: f"{r['cycle']}:{r['id']}",
) -> Response:
    """A page of a (cycle, id)-ordered list within the page's byte bound; `next` is the
    cursor of the last row sent."""
    body = page_json({"arena": arena}, rows, limit, cursor, items)
    return Response(body, media_type="application/json")
