"""The dashboard's web app: a read-only JSON API, one page, and the live WebSocket.

`create_app` composes them: the routers (`api`, `stream`), the guard every request passes
(the names it answers to, the token, the `?token=` login), the handlers that turn a bad
parameter into a 422 and a database that cannot be read into a 503, and the static page.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from urllib.parse import urlencode

from anyio import to_thread
from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles

from mytrader.adapters.store.db import StoreError
from mytrader.adapters.store.reads import ArenaReader
from mytrader.web import api, auth, stream
from mytrader.web.deps import DashboardConfig, Served
from mytrader.web.live import Watcher
from mytrader.web.params import messages

STATIC = Path(__file__).parent / "static"
# The page runs only its own files: an injected <script> or inline handler would not run.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:;"
    " connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)
# Seconds a client waits before asking again while the database is down.
RETRY_AFTER_S = 5

log = logging.getLogger(__name__)


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
    app.state.served = Served(reader=reader, config=config, watcher=watcher)
    app.add_exception_handler(RequestValidationError, _invalid)
    app.add_exception_handler(StoreError, _unavailable)

    @app.middleware("http")
    async def guard(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        access = config.access
        refused = auth.wrong_name(access.hosts, request.headers)
        if refused is None and access.token is not None:
            offered = request.query_params.get("token")
            if offered is not None and request.method == "GET":
                return _login(request, offered, access.token)
            if not auth.matches(auth.presented(request.headers, request.cookies), access.token):
                refused = auth.unauthorized()
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
    app.include_router(api.router)
    app.include_router(stream.router)
    return app


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
