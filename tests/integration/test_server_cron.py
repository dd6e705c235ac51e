"""The LangGraph server runs the arena on a schedule through its own cron API.

`langgraph dev` (in-memory runtime, offline, free port) gets a cron created with the SDK
(`client.crons.create_for_thread`) on the arena's thread; at least two cycles run on
their own and land in the arena's tables, as a CLI run would write them.

Cron granularity: the server parses schedules with croniter, which takes an optional
sixth field for seconds, and its scheduler looks for due crons every
CRON_SCHEDULER_SLEEP_TIME seconds (5 by default). A `*/3`-seconds schedule with a
1-second scheduler tick lets this test see two cycles in seconds instead of minutes.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from mytrader.adapters.store.db import ArenaStore
from mytrader.graph.context import arena_key
from tests.servers.langgraph_dev import langgraph_dev

EVERY_3_SECONDS = "* * * * * */3"  # croniter: the sixth field is seconds


@pytest.fixture
def cron_server(tmp_path):
    # The scheduler looks for due crons every second.
    with langgraph_dev(tmp_path, CRON_SCHEDULER_SLEEP_TIME="1") as url:
        yield url, tmp_path / "home"


@pytest.mark.slow
def test_a_server_cron_runs_cycles_of_the_arena_thread(cron_server):
    from langgraph_sdk import get_sync_client

    url, home = cron_server
    client = get_sync_client(url=url)
    thread = client.threads.create()
    thread_id = thread["thread_id"]
    cron = client.crons.create_for_thread(
        thread_id,
        "mytrader",
        schedule=EVERY_3_SECONDS,
        input={},
        multitask_strategy="reject",  # a cycle still running: the tick is dropped, not queued
    )
    try:
        deadline = time.monotonic() + 120
        state: dict = {}
        while time.monotonic() < deadline:
            state = client.threads.get_state(thread_id)
            if (state["values"] or {}).get("cycle", 0) >= 2 and not state["next"]:
                break
            time.sleep(1)
        assert (state["values"] or {}).get("cycle", 0) >= 2, state
        crons = client.crons.search(thread_id=thread_id)
        assert [c["cron_id"] for c in crons] == [cron["cron_id"]]
    finally:
        client.crons.delete(cron["cron_id"])

    # The README's market-hours cron: the server follows New York time (DST included).
    opening = client.crons.create_for_thread(
        thread_id,
        "mytrader",
        schedule="30,45 9 * * 1-5",
        input={},
        timezone="America/New_York",
        enabled=False,
    )
    try:
        nxt = datetime.fromisoformat(str(opening["next_run_date"]).replace("Z", "+00:00"))
        local = nxt.astimezone(ZoneInfo("America/New_York"))
        assert (local.hour, local.minute) in {(9, 30), (9, 45)} and local.weekday() < 5
        assert nxt - datetime.now(UTC) < timedelta(days=4)
    finally:
        client.crons.delete(opening["cron_id"])

    # The runs were the cron's, on the arena's thread, and the tables hold their cycles.
    runs = client.runs.list(thread_id)
    assert len(runs) >= 2
    assert all(r["assistant_id"] for r in runs)
    arena = arena_key({"configurable": {"thread_id": thread_id}}, "arena")
    with ArenaStore.sqlite(home / "arena.sqlite") as store:
        last = store.last_cycle(arena)
        assert last is not None and last >= 2
        snaps = store.snapshots(arena)
        assert {s.cycle for s in snaps} >= {1, 2}
        assert {s.account for s in snaps} == {"grok", "deepseek", "openai", "collaborative"}
        as_of = {s.cycle: s.as_of for s in snaps}
        assert as_of[2] > as_of[1]  # each run stepped the arena one trading day
