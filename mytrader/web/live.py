"""The live stream: which cycles are recorded (watermarks), and what each one holds.

A `Watcher` keeps every arena's last recorded cycle. With PostgreSQL it LISTENs to the
NOTIFY that `ArenaStore.record_cycle` sends in its transaction (delivered on commit), with
a slow reconciling poll in case the listening connection drops; with SQLite it polls
`MAX(cycle)` per arena, one indexed query, a few times a second.

A client's stream is a cursor: it holds the last cycle it sent and asks the store for
every cycle after it, up to the watermark, in order. Catch-up after a reconnect is the
same loop from the page's last cycle, so there are no gaps and no duplicates. A small
cache of recent cycles lets fifty clients share one read of a new cycle.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import OrderedDict
from typing import Any

import psycopg
from anyio import to_thread

from mytrader.adapters.store.db import CYCLE_CHANNEL, StoreError, scrub
from mytrader.adapters.store.reads import ArenaReader
from mytrader.config import COLLABORATIVE
from mytrader.web.bounds import clipped, cut, log_url, shown, trade_url

log = logging.getLogger(__name__)

# A client further behind than this reloads the page's data instead of replaying cycles.
MAX_CATCHUP = 500
# Cycles read from the store per query while catching up.
BATCH = 100


def parse_json(content: str) -> dict[str, Any]:
    """A DECISION log's JSON; text that is not JSON stays visible as `raw`."""
    try:
        value = json.loads(content)
    except ValueError:
        return {"raw": content}
    return value if isinstance(value, dict) else {"raw": content}


def cycle_bundles(reader: ArenaReader, arena: str, after: int, upto: int) -> list[dict[str, Any]]:
    """Every cycle in (after, upto] with its decisions, critiques, vote, orders and equity,
    long texts cut (a cut entry's `full`, or `critiques_full[agent]`, names the full text)."""
    with reader.session():  # one snapshot: a cycle is never half-read
        return _bundles(reader, arena, after, upto)


def _bundles(reader: ArenaReader, arena: str, after: int, upto: int) -> list[dict[str, Any]]:
    bundles: dict[int, dict[str, Any]] = {}
    for c in reader.cycle_rows(arena, after, upto):
        close = c.get("benchmark_close")
        bundles[int(c["cycle"])] = {
            "type": "cycle",
            "arena": arena,
            "cycle": int(c["cycle"]),
            "as_of": c["as_of"],
            "benchmark": (
                {"symbol": c.get("benchmark_symbol"), "close": close} if close is not None else None
            ),
            "decisions": {},
            "critiques": {},
            "critiques_full": {},
            "vote": None,
            "orders": [],
            "snapshots": [],
        }
    if not bundles:
        return []
    last = max(bundles)
    for entry in reader.logs_between(arena, after, last, ("DECISION", "CRITIQUE")):
        b = bundles.get(int(entry["cycle"]))
        if b is None:
            continue
        full = log_url(entry["id"])
        if entry["kind"] == "CRITIQUE":
            text = entry["content"]
            b["critiques"][entry["agent"]] = cut(text)
            if b["critiques"][entry["agent"]] != text:
                b["critiques_full"][entry["agent"]] = full
        elif entry["agent"] == COLLABORATIVE:
            b["vote"] = shown(parse_json(entry["content"]), full)
        else:
            b["decisions"][entry["agent"]] = shown(parse_json(entry["content"]), full)
    for order in reader.trades_between(arena, after, last):
        # An order booked in this range goes with the cycle that booked it (its news).
        booked = order.get("booked_cycle")
        at = int(booked) if booked is not None and after < int(booked) <= last else order["cycle"]
        if (b := bundles.get(int(at))) is not None:
            b["orders"].append(shown(order, trade_url(order["id"])))
    for snap in reader.snapshots_between(arena, after, last):
        if (b := bundles.get(int(snap["cycle"]))) is not None:
            b["snapshots"].append(clipped(snap)[0])
    return [bundles[c] for c in sorted(bundles)]


class Watcher:
    """Every arena's last recorded cycle, kept fresh; clients wait on it for news."""

    def __init__(
        self,
        reader: ArenaReader,
        *,
        listen_url: str | None = None,
        poll_s: float = 0.2,
        reconcile_s: float = 5.0,
    ) -> None:
        self.reader = reader
        self.listen_url = listen_url
        self.poll_s = poll_s
        self.reconcile_s = reconcile_s
        self.marks: dict[str, int] = {}
        self._cond = asyncio.Condition()
        self._cache: dict[str, OrderedDict[int, dict[str, Any]]] = {}
        self._read_locks: dict[str, asyncio.Lock] = {}

    def mark(self, arena: str) -> int:
        return self.marks.get(arena, 0)

    async def _update(self, marks: dict[str, int]) -> None:
        changed = {a: c for a, c in marks.items() if c != self.marks.get(a)}
        for arena, cycle in changed.items():
            if cycle < self.mark(arena):  # the arena was reset: its cached cycles are gone
                self._cache.pop(arena, None)
        if changed:
            async with self._cond:
                self.marks.update(changed)
                self._cond.notify_all()

    async def poll_once(self) -> None:
        await self._update(await to_thread.run_sync(self.reader.watermarks))

    async def run(self) -> None:
        """Forever: follow the store (cancel the task to stop)."""
        if self.listen_url:
            await self._listen(self.listen_url)
        else:
            while True:
                try:
                    await self.poll_once()
                except StoreError as exc:  # down or unreadable: its message, not a traceback
                    log.warning("watermark poll failed: %s", exc)
                except Exception:  # a busy or restarting database: try again next tick
                    log.warning("watermark poll failed", exc_info=True)
                await asyncio.sleep(self.poll_s)

    async def _listen(self, url: str) -> None:
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
                    await conn.execute(f"LISTEN {CYCLE_CHANNEL}")
                    await self.poll_once()  # what was recorded before we listened
                    while True:
                        async for note in conn.notifies(timeout=self.reconcile_s):
                            arena, _, cycle = note.payload.rpartition(":")
                            if arena and cycle.isdigit():
                                await self._update({arena: max(self.mark(arena), int(cycle))})
                        await self.poll_once()  # after a silence: reconcile
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the message only: a traceback could hold the URL
                log.warning("listening for cycles failed, retrying: %s", scrub(str(exc), url))
                await asyncio.sleep(1.0)

    async def wait_past(self, arena: str, cycle: int, timeout: float) -> bool:
        """Until the arena has a cycle after `cycle` (True), or the timeout (False)."""
        async with self._cond:
            try:
                await asyncio.wait_for(
                    self._cond.wait_for(lambda: self.mark(arena) > cycle), timeout
                )
            except TimeoutError:
                return False
        return True

    async def bundles(self, arena: str, after: int, upto: int) -> list[dict[str, Any]]:
        """Cycles in (after, upto], at most BATCH, from the cache or one read of the store."""
        upto = min(upto, after + BATCH)
        cache = self._cache.setdefault(arena, OrderedDict())
        lock = self._read_locks.setdefault(arena, asyncio.Lock())
        async with lock:  # one reader per arena: concurrent clients wait and hit the cache
            wanted = range(after + 1, upto + 1)
            if not all(c in cache for c in wanted):
                fresh = await to_thread.run_sync(cycle_bundles, self.reader, arena, after, upto)
                for b in fresh:
                    cache[b["cycle"]] = b
                while len(cache) > 4 * BATCH:
                    cache.popitem(last=False)
            return [cache[c] for c in wanted if c in cache]
