"""The live WebSocket `/ws?arena=&since=`: every cycle after `since`, then each new one."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from mytrader.adapters.store.db import StoreError
from mytrader.web import auth
from mytrader.web.deps import ArenaName, ServedBy
from mytrader.web.live import MAX_CATCHUP, Watcher
from mytrader.web.params import After

# A quiet stream still sends a ping this often, so dead connections are noticed.
PING_S = 20.0

log = logging.getLogger(__name__)
router = APIRouter()


@router.websocket("/ws")
async def stream(websocket: WebSocket, by: ServedBy, name: ArenaName, since: After = 0) -> None:
    """Every cycle after `since`, then each new one as it is recorded."""
    refused = auth.refusal(by.config.access, websocket.headers, websocket.cookies, True)
    if refused is not None:
        await websocket.send_denial_response(refused)
        return
    await websocket.accept()
    pump = asyncio.create_task(_pump(websocket, by.watcher, name, since))
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
