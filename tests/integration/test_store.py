"""ArenaStore and the checkpointer, on SQLite and PostgreSQL (the `backend` fixture)."""

from __future__ import annotations

import operator
import sqlite3
import threading
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, TypedDict

import psycopg
import pytest
from langgraph.channels.delta import DeltaChannel
from langgraph.graph import END, START, StateGraph

from mytrader.adapters.store import (
    ArenaStore,
    CycleRecord,
    LogEntry,
    Snapshot,
    StoreError,
    StoreLedger,
    TradeRow,
    Usage,
    delete_thread,
    mask_url,
    open_checkpointer,
    prune_thread,
)
from mytrader.adapters.store.checkpointer import CHECKPOINTS_FILE
from mytrader.app.storage import open_store, store_config
from mytrader.config import Settings
from mytrader.domain.models import OrderRequest, OrderResult, PendingOrder
from mytrader.ports.ledger import SimOrder

# --- builders ------------------------------------------------------------------------


def _order(arena: str, cycle: int, n: int, **changes: Any) -> OrderResult:
    fields: dict[str, Any] = {
        "client_order_id": f"{arena}-{cycle}-grok-{n}",
        "account": "grok",
        "symbol": "AAPL",
        "side": "buy",
        "qty": 3,
        "status": "filled",
        "broker_order_id": f"sim-{n}",
        "filled_qty": 3,
        "filled_avg_price": Decimal("1234567.8912"),
        "filled_at": "2024-03-04",
        "fee": Decimal("0.0001"),
    }
    return OrderResult(**(fields | changes))


def _sim(arena: str, cycle: int, n: int, **changes: Any) -> SimOrder:
    """A ledger entry: the order as placed."""
    request = OrderRequest(
        client_order_id=f"{arena}-{cycle}-grok-{n}",
        account="grok",
        symbol="AAPL",
        side="buy",
        qty=3,
        type="limit",
        limit_price=Decimal("123.45"),
        as_of="2024-03-01",
    )
    return SimOrder(request=request, broker_order_id=f"sim-{n}", **changes)


def _snapshot(account: str, cycle: int, cash: str = "99999.9999") -> Snapshot:
    return Snapshot(
        account=account,
        cycle=cycle,
        as_of=f"2024-03-{cycle:02d}",
        cash=Decimal(cash),
        positions_value=Decimal("1234567.8912"),
        equity=Decimal(cash) + Decimal("1234567.8912"),
        realized_pnl=Decimal("-0.0001"),
        fees=Decimal("0.0001"),
        trades=1,
        wins=0,
        losses=1,
        starting_cash=Decimal("100000"),
        positions={"AAPL": 3, "MSFT": 0},
    )


def _cycle(
    arena: str = "a1", cycle: int = 1, accounts: tuple[str, ...] = ("grok", "openai")
) -> CycleRecord:
    return CycleRecord(
        arena=arena,
        cycle=cycle,
        as_of=f"2024-03-{cycle:02d}",
        trades=[
            _order(arena, cycle, 1),
            _order(
                arena,
                cycle,
                2,
                side="sell",
                status="refused",
                reason="no position",
                broker_order_id=None,
                filled_qty=0,
                filled_avg_price=None,
                filled_at=None,
                fee=Decimal("0"),
            ),
        ],
        logs=[
            LogEntry(agent="grok", kind="THOUGHT", content="first thought"),
            LogEntry(agent="grok", kind="THOUGHT", content="second thought"),
            LogEntry(agent="grok", kind="DECISION", content='{"decision": "BUY"}'),
            LogEntry(agent="openai", kind="CRITIQUE", content="too timid"),
        ],
        snapshots=[_snapshot(a, cycle) for a in accounts],
        usage=[
            Usage(
                agent="grok",
                model="x-ai/grok",
                calls=1,
                tokens_in=10,
                tokens_out=5,
                cost_usd=Decimal("0.0001"),
            ),
            Usage(
                agent="openai",
                model="gpt",
                calls=2,
                tokens_in=7,
                tokens_out=3,
                cost_usd=Decimal("0.1"),
            ),
        ],
    )


def _counts(store: ArenaStore, arena: str) -> tuple[int, int, int, int]:
    return (
        len(store.trades(arena)),
        len(store.agent_logs(arena)),
        len(store.snapshots(arena)),
        sum(u.calls for u in store.usage(arena).values()),
    )


# --- recording and reading -------------------------------------------------------------


def test_record_and_read_back_exactly(store: ArenaStore) -> None:
    rec = _cycle()
    store.record_cycle(rec)

    trades = store.trades("a1")
    expected = [
        TradeRow(**t.model_dump(), arena="a1", cycle=1, as_of=rec.as_of) for t in rec.trades
    ]
    assert trades == expected
    assert str(trades[0].filled_avg_price) == "1234567.8912"
    assert str(trades[0].fee) == "0.0001"
    assert trades[1].filled_avg_price is None and trades[1].realized_pnl is None

    assert [t.status for t in store.trades("a1", status="refused")] == ["refused"]
    assert store.trades("a1", account="nobody") == []

    logs = store.agent_logs("a1")
    assert [(g.agent, g.kind, g.content) for g in logs] == [
        (e.agent, e.kind, e.content) for e in rec.logs
    ]
    assert [g.content for g in store.agent_logs("a1", agent="grok", kind="THOUGHT")] == [
        "first thought",
        "second thought",
    ]

    snaps = store.snapshots("a1")
    assert snaps == rec.snapshots
    assert all(isinstance(s.cash, Decimal) and str(s.cash) == "99999.9999" for s in snaps)
    assert snaps[0].positions == {"AAPL": 3, "MSFT": 0}
    assert store.snapshots("a1", account="openai") == [rec.snapshots[1]]
    assert store.last_cycle("a1") == 1
    assert store.last_cycle("other") is None


def test_usage_totals_are_exact_decimals(store: ArenaStore) -> None:
    for cycle in (1, 2, 3):
        store.record_cycle(_cycle(cycle=cycle))
    usage = store.usage("a1")
    assert list(usage) == ["grok", "openai"]
    grok = usage["grok"]
    assert (grok.calls, grok.tokens_in, grok.tokens_out) == (3, 30, 15)
    # 3 x 0.0001 as floats is 0.00030000000000000003.
    assert str(grok.cost_usd) == "0.0003"
    assert usage["openai"].cost_usd == Decimal("0.3")
    assert store.usage("other") == {}


def test_record_cycle_twice_is_idempotent(store: ArenaStore) -> None:
    rec = _cycle()
    store.record_cycle(rec)
    store.record_cycle(rec)
    assert _counts(store, "a1") == (2, 4, 2, 3)

    # A retried cycle with new values overwrites, still without copies.
    changed = rec.model_copy(deep=True)
    changed.snapshots[0].cash = Decimal("1.5")
    store.record_cycle(changed)
    assert _counts(store, "a1") == (2, 4, 2, 3)
    assert store.snapshots("a1", account="grok")[0].cash == Decimal("1.5")


def _bad_trade(rec: CycleRecord) -> None:
    # model_construct skips validation: the database's CHECK is what must refuse it.
    fields = rec.trades[0].model_dump() | {"status": "bogus", "client_order_id": "a1-2-bad"}
    bad = OrderResult.model_construct(**fields)
    rec.trades.append(bad)


def _bad_log(rec: CycleRecord) -> None:
    rec.logs.append(LogEntry.model_construct(agent="grok", kind="RANT", content="x"))


@pytest.mark.parametrize("spoil", [_bad_trade, _bad_log], ids=["trade", "log"])
def test_failed_cycle_leaves_nothing(
    store: ArenaStore, spoil: Callable[[CycleRecord], None]
) -> None:
    store.record_cycle(_cycle(cycle=1))
    rec = _cycle(cycle=2)
    spoil(rec)  # rows before the bad one are written first, then rolled back
    with pytest.raises(StoreError):
        store.record_cycle(rec)

    assert store.last_cycle("a1") == 1
    assert {t.cycle for t in store.trades("a1")} == {1}
    assert {g.cycle for g in store.agent_logs("a1")} == {1}
    assert {s.cycle for s in store.snapshots("a1")} == {1}
    assert store.usage("a1")["grok"].calls == 1
    # The store is still usable after the rollback.
    store.record_cycle(_cycle(cycle=2))
    assert store.last_cycle("a1") == 2


def test_snapshot_of_another_cycle_is_refused(store: ArenaStore) -> None:
    rec = _cycle(cycle=2)
    rec.snapshots.append(_snapshot("deepseek", 1))
    with pytest.raises(ValueError, match="cycle 1, not 2"):
        store.record_cycle(rec)
    assert store.last_cycle("a1") is None


def test_latest_snapshots_one_per_account(store: ArenaStore) -> None:
    store.record_cycle(_cycle(cycle=1, accounts=("grok", "openai")))
    store.record_cycle(_cycle(cycle=2, accounts=("grok",)))
    store.record_cycle(_cycle(arena="a2", cycle=9, accounts=("openai",)))

    latest = store.latest_snapshots("a1")
    assert [(s.account, s.cycle) for s in latest] == [("grok", 2), ("openai", 1)]
    assert [s.cycle for s in store.snapshots("a1")] == [1, 1, 2]
    assert [s.cycle for s in store.snapshots("a1", account="grok")] == [1, 2]
    assert store.latest_snapshots("empty") == []


def test_reset_removes_only_that_arena(store: ArenaStore) -> None:
    for arena in ("a1", "a2", "a10"):
        store.record_cycle(_cycle(arena=arena))
        store.ledger_put(_sim(arena, 1, 7))

    store.reset("a1")

    assert _counts(store, "a1") == (0, 0, 0, 0)
    assert store.last_cycle("a1") is None
    assert store.ledger_get("a1-1-grok-7") is None
    for arena in ("a2", "a10"):  # "a10-..." does not start with "a1-"
        assert _counts(store, arena) == (2, 4, 2, 3)
        assert store.ledger_get(f"{arena}-1-grok-7") is not None


# --- the order ledger --------------------------------------------------------------------


def test_ledger_put_once(store: ArenaStore) -> None:
    order = _sim("a1", 1, 1)
    cid = order.request.client_order_id
    assert store.ledger_get(cid) is None
    assert store.ledger_put(order) is True
    assert store.ledger_put(order.model_copy(update={"broker_order_id": "other"})) is False
    assert store.ledger_get(cid) == order  # the first one, exactly

    ledger = StoreLedger(store)
    assert ledger.get(cid) == order
    assert ledger.put(order) is False
    other = _sim("a1", 1, 2)
    assert ledger.put(other) is True and ledger.get(other.request.client_order_id) == other


def test_ledger_update_and_find(store: ArenaStore) -> None:
    ledger = StoreLedger(store)
    for arena, n in (("a1", 2), ("a1", 1), ("a10", 1)):
        ledger.put(_sim(arena, 1, n))
    canceled = _sim("a1", 1, 1, canceled_as_of="2024-03-02")
    ledger.update(canceled)
    assert ledger.get("a1-1-grok-1") == canceled
    found = ledger.find("a1-1-")
    assert [o.request.client_order_id for o in found] == ["a1-1-grok-1", "a1-1-grok-2"]


def test_ledger_reads_rows_of_older_versions(store: ArenaStore) -> None:
    # Older versions stored the order's final result only: it is served as it ended.
    old = _order("a1", 1, 5)
    with store._tx() as tx:
        tx.run(
            "INSERT INTO sim_orders (client_order_id, result) VALUES (?, ?)",
            (old.client_order_id, old.model_dump_json()),
        )
    entry = store.ledger_get(old.client_order_id)
    assert entry is not None and entry.final == old


def test_a_settled_order_keeps_its_placement_cycle(store: ArenaStore) -> None:
    placed = _order("a1", 1, 3, status="pending", filled_qty=0, filled_avg_price=None)
    store.record_cycle(CycleRecord(arena="a1", cycle=1, as_of="2024-03-01", trades=[placed]))
    filled = _order("a1", 1, 3)
    booked = PendingOrder(order=filled, cycle=1, as_of="2024-03-01", booked_qty=3)
    store.record_cycle(CycleRecord(arena="a1", cycle=2, as_of="2024-03-04", settled=[booked]))
    (row,) = store.trades("a1")
    assert (row.status, row.cycle, row.as_of, row.booked_cycle) == ("filled", 1, "2024-03-01", 2)
    assert row.filled_avg_price == Decimal("1234567.8912")


def test_concurrent_puts_of_one_id_exactly_one_wins(store: ArenaStore) -> None:
    order = _sim("a1", 1, 1)
    start = threading.Barrier(8)
    results: list[bool] = []
    errors: list[BaseException] = []

    def put() -> None:
        start.wait()
        try:
            results.append(store.ledger_put(order))
        except BaseException as exc:  # surfaced by the assert below
            errors.append(exc)

    threads = [threading.Thread(target=put) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(results) == [False] * 7 + [True]


def test_data_persists_across_stores(settings: Settings) -> None:
    with open_store(settings) as first:
        first.record_cycle(_cycle())
        first.ledger_put(_sim("a1", 1, 9))
    with open_store(settings) as second:
        assert _counts(second, "a1") == (2, 4, 2, 3)
        assert second.ledger_get("a1-1-grok-9") == _sim("a1", 1, 9)
        assert str(second.trades("a1")[0].filled_avg_price) == "1234567.8912"


def test_setup_is_idempotent(store: ArenaStore) -> None:
    store.record_cycle(_cycle())
    store.setup()
    store.setup()
    assert store.last_cycle("a1") == 1


# --- secrets -------------------------------------------------------------------------------


def test_mask_url_hides_passwords() -> None:
    assert mask_url("postgresql://bob:hunter2@db:5432/x") == "postgresql://bob:***@db:5432/x"
    assert mask_url("postgresql://db/x?sslmode=require&password=hunter2") == (
        "postgresql://db/x?sslmode=require&password=***"
    )
    assert mask_url("postgresql://bob@db/x") == "postgresql://bob@db/x"


def test_connection_error_masks_the_password() -> None:
    # Port 1: nothing listens, so this fails fast without needing the server.
    url = "postgresql://trader:s3cr3t-pw@127.0.0.1:1/nowhere"
    with pytest.raises(StoreError) as info:
        ArenaStore.postgres(url, timeout=1)
    message = str(info.value)
    assert "s3cr3t-pw" not in message and "trader:***@127.0.0.1:1" in message
    assert info.value.__cause__ is None


# --- the checkpointer ----------------------------------------------------------------------


class Count(TypedDict):
    n: int
    seen: Annotated[list[int], operator.add]


MORE: Any = {"seen": []}  # a partial input: run again from the saved state


def _step(state: Count) -> dict[str, Any]:
    return {"n": state["n"] + 1, "seen": [state["n"]]}


def _graph() -> StateGraph[Count]:
    graph = StateGraph(Count)
    graph.add_node("one", _step)
    graph.add_node("two", _step)
    graph.add_edge(START, "one")
    graph.add_edge("one", "two")
    graph.add_edge("two", END)
    return graph


def _rows(settings: Settings, thread_id: str) -> dict[str, int]:
    """Rows of the thread in each checkpoint table, read beside the saver."""
    url = settings.postgres_url
    if url:
        tables = ("checkpoints", "checkpoint_writes", "checkpoint_blobs")
        with psycopg.connect(url) as conn:
            return {
                t: conn.execute(
                    f"SELECT count(*) FROM {t} WHERE thread_id = %s", (thread_id,)
                ).fetchone()[0]  # type: ignore[index]
                for t in tables
            }
    path = settings.mytrader_home / CHECKPOINTS_FILE
    with sqlite3.connect(path) as conn:
        return {
            t: conn.execute(
                f"SELECT count(*) FROM {t} WHERE thread_id = ?", (thread_id,)
            ).fetchone()[0]
            for t in ("checkpoints", "writes")
        }


def test_prune_keeps_the_state_and_shrinks_the_thread(settings: Settings) -> None:
    with open_checkpointer(store_config(settings)) as saver:
        app = _graph().compile(checkpointer=saver)
        cfg: Any = {"configurable": {"thread_id": "t1"}}
        other: Any = {"configurable": {"thread_id": "t2"}}
        app.invoke(Count(n=0, seen=[]), other)
        for i in range(4):
            app.invoke(Count(n=0, seen=[]) if i == 0 else MORE, cfg)
        state = app.get_state(cfg).values
        before, other_before = _rows(settings, "t1"), _rows(settings, "t2")

        assert prune_thread(saver, "t1") is True

        after = _rows(settings, "t1")
        assert after["checkpoints"] == 1 and before["checkpoints"] > 4
        assert all(after[t] < before[t] for t in before if before[t] > 1)
        assert _rows(settings, "t2") == other_before
        assert app.get_state(cfg).values == state == {"n": 8, "seen": list(range(8))}
        assert len(list(saver.list(cfg))) == 1

        result = app.invoke(MORE, cfg)  # resumes from the kept checkpoint
        assert result == {"n": 10, "seen": list(range(10))}

        prune_thread(saver, "t1")  # again: still one checkpoint, same state
        assert _rows(settings, "t1")["checkpoints"] == 1
        assert app.get_state(cfg).values == result


def test_state_survives_prune_and_reopen(settings: Settings) -> None:
    cfg: Any = {"configurable": {"thread_id": "t1"}}
    with open_checkpointer(store_config(settings)) as saver:
        app = _graph().compile(checkpointer=saver)
        app.invoke(Count(n=0, seen=[]), cfg)
        app.invoke(MORE, cfg)
        prune_thread(saver, "t1")
    with open_checkpointer(store_config(settings)) as saver:
        app = _graph().compile(checkpointer=saver)
        assert app.get_state(cfg).values == {"n": 4, "seen": [0, 1, 2, 3]}
        delete_thread(saver, "t1")
        assert app.get_state(cfg).values == {}
        assert sum(_rows(settings, "t1").values()) == 0


def _concat(state: list[int] | None, writes: Any) -> list[int]:
    return [*(state or []), *(x for w in writes for x in w)]


class Deltas(TypedDict):
    seen: Annotated[list[int], DeltaChannel(_concat, list)]


def test_prune_refuses_delta_channel_threads(settings: Settings) -> None:
    graph = StateGraph(Deltas)
    graph.add_node("one", lambda s: {"seen": [len(s["seen"])]})
    graph.add_edge(START, "one")
    graph.add_edge("one", END)
    cfg: Any = {"configurable": {"thread_id": "d1"}}
    with open_checkpointer(store_config(settings)) as saver:
        app = graph.compile(checkpointer=saver)
        for _ in range(3):
            app.invoke(MORE, cfg)
        before = _rows(settings, "d1")
        with pytest.raises(NotImplementedError, match="DeltaChannel"):
            prune_thread(saver, "d1")
        assert _rows(settings, "d1") == before
        assert app.get_state(cfg).values == {"seen": [0, 1, 2]}


# --- upgrading a database made by an older version ------------------------------------------

_OLD_TRADES = """CREATE TABLE trades (
    id {id}, arena TEXT NOT NULL, cycle INTEGER NOT NULL, as_of TEXT NOT NULL,
    account TEXT NOT NULL, symbol TEXT NOT NULL,
    side TEXT NOT NULL CHECK (side IN ('buy', 'sell')), qty INTEGER NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('filled', 'refused', 'rejected', 'expired', 'accepted')),
    reason TEXT NOT NULL DEFAULT '', client_order_id TEXT NOT NULL UNIQUE,
    broker_order_id TEXT, filled_qty INTEGER NOT NULL DEFAULT 0, filled_avg_price {money},
    filled_at TEXT, fee {money} NOT NULL, realized_pnl {money}, created_at {now}
)"""
_OLD_CYCLES = (
    "CREATE TABLE cycles (arena TEXT NOT NULL, cycle INTEGER NOT NULL,"
    " as_of TEXT NOT NULL, recorded_at TEXT, PRIMARY KEY (arena, cycle))"
)


def test_an_older_database_is_upgraded_and_keeps_its_rows(settings: Settings) -> None:
    with open_store(settings) as store:
        sqlite = store.dialect == "sqlite"
        types = (
            {
                "id": "INTEGER PRIMARY KEY AUTOINCREMENT",
                "money": "TEXT",
                "now": "TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))",
            }
            if sqlite
            else {
                "id": "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY",
                "money": "NUMERIC",
                "now": "TIMESTAMPTZ NOT NULL DEFAULT now()",
            }
        )
        with store._tx() as tx:
            tx.run("DROP TABLE trades")
            tx.run("DROP TABLE cycles")
            tx.run(_OLD_TRADES.format(**types))
            tx.run(_OLD_CYCLES)
            tx.run(
                "INSERT INTO trades (arena, cycle, as_of, account, symbol, side, qty, status,"
                " client_order_id, fee) VALUES ('a1', 1, '2024-03-01', 'grok', 'AAPL', 'buy',"
                " 3, 'filled', 'a1-grok-1-0', '1')"
            )
    with open_store(settings) as store:  # setup() upgrades
        (old,) = store.trades("a1")
        assert (old.client_order_id, old.status, old.purpose, old.booked_cycle) == (
            "a1-grok-1-0",
            "filled",
            "decision",
            None,
        )
        pending = _order("a1", 2, 1, status="pending", filled_qty=0, filled_avg_price=None)
        store.record_cycle(CycleRecord(arena="a1", cycle=2, as_of="2024-03-04", trades=[pending]))
        assert [t.status for t in store.trades("a1")] == ["filled", "pending"]


def test_the_reader_creates_nothing_and_says_what_is_missing(tmp_path: Path) -> None:
    """The dashboard's reader never creates or migrates a table: before any writer, a
    read says the tables are missing and who creates them; once they exist, it reads."""
    from mytrader.adapters.store.reads import ArenaReader, SchemaNotReady

    path = tmp_path / "arena.sqlite"
    with ArenaReader.sqlite(path) as reader:
        with pytest.raises(SchemaNotReady, match=r"no arena tables .*`mytrader run`"):
            reader.arenas()
        problem = reader.schema_problem()
        assert problem is not None and "cycles" in problem
        with ArenaStore.sqlite(path):
            pass  # a writer opens (and creates) the tables
        assert reader.schema_problem() is None
        assert reader.arenas() == []
