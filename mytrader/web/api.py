"""The dashboard's read-only JSON API (`/api/...`), one APIRouter.

Everything is read from the arena's tables through `ArenaReader` (never from the
checkpoints of a running cycle). Lists are keyset-paged, newest first: a page's `next`
goes back as `before` for the following page. Long texts are cut (`bounds`), and every
parameter is parsed by `params`. No setting is ever served.
"""

from __future__ import annotations

import json
import threading
import weakref
from collections.abc import Callable
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Response
from pydantic import BaseModel

from mytrader.adapters.store.reads import ArenaReader
from mytrader.app.leaderboard import Standing, leaderboard_and_evidence
from mytrader.config import COLLABORATIVE
from mytrader.domain.evidence import Evidence
from mytrader.domain.records import EvidenceRows, Snapshot, Usage
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
from mytrader.web.deps import ArenaName, ServedBy
from mytrader.web.live import cycle_bundles, parse_json
from mytrader.web.params import (
    INT64_MAX,
    After,
    Limit,
    Name,
    Offset,
    Points,
    Recent,
    RowId,
    agent_cursor,
    row_cursor,
)

RowCursor = Annotated[tuple[int, int] | None, Depends(row_cursor)]
AgentCursor = Annotated[tuple[int, str] | None, Depends(agent_cursor)]

router = APIRouter(prefix="/api")


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


@router.get("/arenas", response_model=Arenas, summary="Every arena with recorded cycles")
def arenas(by: ServedBy, limit: Limit = 100, offset: Offset = 0) -> Response:
    return _json({"default": by.config.default_arena, "items": by.reader.arenas(limit, offset)})


@router.get("/leaderboard", response_model=Leaderboard, summary="`mytrader leaderboard`")
def leaderboard(by: ServedBy, name: ArenaName, limit: Limit = 100, offset: Offset = 0) -> Response:
    rows = _leaderboard(by.reader, name)
    items = [s.model_dump(mode="json") for s in rows[offset : offset + limit]]
    return _json({"arena": name, "items": items})


@router.get("/evidence", summary="How sure the leaderboard is (README: How sure...)")
def evidence(by: ServedBy, name: ArenaName) -> Response:
    """The leaderboard's evidence: per account the status in words, the Sharpe with its
    block-bootstrap interval, PSR, minimum track record, gross and net of the LLM bill;
    who beats whom; calibration of the stated confidence; attribution of the collaborative
    P&L. `evidence` is None before the first cycle."""
    found = _board(by.reader, name)[1]
    return _json({"arena": name, "evidence": None if found is None else _plain(found)})


@router.get(
    "/equity", response_model=Equity, summary="Equity per account and the benchmark, downsampled"
)
def equity(by: ServedBy, name: ArenaName, points: Points = 500) -> Response:
    return _json({"arena": name, **by.reader.equity_series(name, points)})


@router.get("/positions", response_model=Page, summary="Each book at its last cycle")
def positions(by: ServedBy, name: ArenaName, limit: Limit = 100, offset: Offset = 0) -> Response:
    books = [s.model_dump(mode="json") for s in by.reader.latest_books(name)]
    return _json({"arena": name, "items": books[offset : offset + limit], "next": None})


@router.get("/trades", response_model=Page, summary="Order legs: fills and refusals")
def trades(
    by: ServedBy,
    name: ArenaName,
    before: RowCursor,
    account: Name = None,
    status: Name = None,
    limit: Limit = 50,
) -> Response:
    rows = by.reader.trades_page(name, account=account, status=status, before=before, limit=limit)
    return _page(name, rows, limit, [_trade(r) for r in rows])


@router.get("/trades/{trade_id}", summary="One order leg, its texts in full")
def trade(by: ServedBy, trade_id: RowId) -> Response:
    return _json(_found(by.reader.trade_row(trade_id), "trade"))


@router.get("/logs", response_model=Page, summary="THOUGHT, CRITIQUE and DECISION logs")
def logs(
    by: ServedBy,
    name: ArenaName,
    before: RowCursor,
    agent: Name = None,
    kind: Name = None,
    limit: Limit = 50,
) -> Response:
    rows = by.reader.logs_page(name, agent=agent, kind=kind, before=before, limit=limit)
    return _page(name, rows, limit, [shown(r, log_url(r["id"])) for r in rows])


@router.get("/logs/{log_id}", summary="One log entry, its content in full")
def log_entry(by: ServedBy, log_id: RowId) -> Response:
    return _json(_found(by.reader.log_entry(log_id), "log entry"))


@router.get("/votes", response_model=Page, summary="The collaborative votes")
def votes(by: ServedBy, name: ArenaName, before: RowCursor, limit: Limit = 50) -> Response:
    rows = by.reader.logs_page(
        name, agent=COLLABORATIVE, kind="DECISION", before=before, limit=limit
    )
    items = [_logged(r, {"id": r["id"], "cycle": r["cycle"]}) for r in rows]
    return _page(name, rows, limit, items)


@router.get("/usage", summary="LLM calls, tokens and cost: totals and per cycle")
def usage(
    by: ServedBy, name: ArenaName, before: AgentCursor, agent: Name = None, limit: Limit = 50
) -> Response:
    rows = by.reader.usage_page(name, agent=agent, before=before, limit=limit)
    totals = [u.model_dump(mode="json") for u in by.reader.usage_totals(name).values()]
    head = {"arena": name, "totals": clipped(totals)[0]}
    items = [clipped(r)[0] for r in rows]
    return Response(
        page_json(head, rows, limit, lambda r: f"{r['cycle']}:{r['agent']}", items),
        media_type="application/json",
    )


@router.get("/agents", summary="Each agent's latest decision and critique, the last vote")
def agents(by: ServedBy, name: ArenaName) -> Response:
    with by.reader.session():
        return _json(_agents(by.reader, name))


@router.get("/overview", summary="All the page's first view needs, in one request")
def overview(
    by: ServedBy,
    name: ArenaName,
    points: Points = 500,
    trades: Limit = 50,
    recent: Recent = 8,
) -> Response:
    """The arenas, and for one arena: the leaderboard, the equity series, the agents'
    latest decisions, the books, the first page of orders and the last `recent` cycles.
    One request instead of seven: the first paint waits for one round trip."""
    board = _leaderboard(by.reader, name)  # before the session: it reads through the store
    with by.reader.session():
        return _json(
            _overview(by.reader, by.config.default_arena, name, board, points, trades, recent)
        )


@router.get("/cycles", response_model=Page, summary="Recorded cycles after `after`")
def cycles(by: ServedBy, name: ArenaName, after: After = 0, limit: Limit = 50) -> Response:
    rows = cycle_bundles(by.reader, name, after, min(after + limit, INT64_MAX))
    return _page(name, rows, limit, cursor=lambda b: b["cycle"])


class _DashboardReads:
    """The leaderboard's reads through the reader's quick ones: the books by index seek,
    the usage summed incrementally (the same rows and totals as the store's)."""

    def __init__(self, reader: ArenaReader) -> None:
        self._reader = reader

    def latest_snapshots(self, arena: str) -> list[Snapshot]:
        return self._reader.latest_books(arena)

    def usage(self, arena: str) -> dict[str, Usage]:
        return self._reader.usage_totals(arena)

    def snapshots(self, arena: str) -> list[Snapshot]:
        return self._reader.snapshots(arena)

    def benchmark_closes(self, arena: str) -> list[tuple[str, Decimal]]:
        return self._reader.benchmark_closes(arena)

    def evidence_rows(self, arena: str) -> EvidenceRows:
        return self._reader.evidence_rows(arena)


Board = tuple[list[Standing], Evidence | None]
# reader -> arena -> (the books and usage read, the leaderboard and evidence made of them)
_boards: weakref.WeakKeyDictionary[ArenaReader, dict[str, tuple[str, Board]]] = (
    weakref.WeakKeyDictionary()
)
_boards_lock = threading.Lock()


def _leaderboard(reader: ArenaReader, name: str) -> list[Standing]:
    return _board(reader, name)[0]


def _plain(evidence: Evidence) -> Any:
    return evidence.model_dump(mode="json")


def _board(reader: ArenaReader, name: str) -> Board:
    """`leaderboard` (the CLI's) and its evidence, kept while the arena's books and usage
    stay the same: they read every snapshot and bootstrap every curve, which a long arena
    must not pay per request. Not inside `reader.session()`: the history is read through
    the store's own queries."""
    reads = _DashboardReads(reader)
    books, usage = reads.latest_snapshots(name), reads.usage(name)
    key = json.dumps(
        [
            [b.model_dump(mode="json") for b in books],
            [u.model_dump(mode="json") for u in usage.values()],
        ]
    )
    with _boards_lock:
        kept = _boards.setdefault(reader, {}).get(name)
    if kept is not None and kept[0] == key:
        return kept[1]
    board = leaderboard_and_evidence(reads, name)
    with _boards_lock:
        arenas = _boards.setdefault(reader, {})
        if len(arenas) > 64:
            arenas.clear()
        arenas[name] = (key, board)
    return board


def _agents(reader: ArenaReader, name: str) -> dict[str, Any]:
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


def _overview(
    reader: ArenaReader,
    default: str,
    name: str,
    board: list[Standing],
    points: int,
    trades: int,
    recent: int,
) -> dict[str, Any]:
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
    return {
        "arena": name,
        "arenas": {"default": default, "items": reader.arenas(500)},
        "leaderboard": [s.model_dump(mode="json") for s in board],
        "equity": {"arena": name, **series},
        "agents": _agents(reader, name),
        "positions": [b.model_dump(mode="json") for b in books],
        "trades": {"items": shown_legs[:sent], "next": nxt},
        "recent": newest_fitting(bundles, PAGE_BYTES // 2) if bundles else [],
    }


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
