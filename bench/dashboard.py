"""The dashboard on a long arena: 10,000 recorded cycles, served by `mytrader serve`.

    python bench/dashboard.py [--cycles 10000] [--postgres URL] [--clients 50] [--pushes 20]

Measures, against the goals (page <= 1 s, API p95 <= 100 ms, push <= 1 s):
- time to first full page load in headless Chromium (navigation start to every panel
  drawn from the API), cold (fresh browser) and warm;
- API p50/p95 per endpoint;
- push latency, commit of a cycle's record -> the page showing it (in Chromium), and
  commit -> each of N concurrent WebSocket clients;
each next to its baseline measured in the same run: the same figure on a 100-cycle arena
(what 10,000 cycles cost), and for the clients, one client alone.

The arena is written directly through the store (`record_cycle` per cycle, no graph).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import websockets

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mytrader.adapters.store.db import ArenaStore  # noqa: E402
from mytrader.app.storage import open_store  # noqa: E402
from mytrader.config import load_settings  # noqa: E402
from tests.dashboard_support import chromium, cycle_record, free_port  # noqa: E402
from tests.helpers import clean_env  # noqa: E402

BIG, SMALL = "bench", "small"
PAGE_GOAL_S, API_GOAL_MS, PUSH_GOAL_S = 1.0, 100.0, 1.0


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def build(store: ArenaStore, arena: str, cycles: int) -> float:
    start = time.perf_counter()
    for cycle in range(1, cycles + 1):
        store.record_cycle(cycle_record(arena, cycle, critique=cycle % 5 == 0))
        if cycle % 2000 == 0:
            print(f"  {arena}: {cycle} cycles recorded", flush=True)
    return time.perf_counter() - start


def start_server(env: dict[str, str], port: int) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "mytrader.cli.main", "serve", "--port", str(port), "--arena", BIG],
        env={**clean_env(), **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    deadline = time.monotonic() + 60
    while True:
        try:
            httpx.get(f"http://127.0.0.1:{port}/api/arenas", timeout=1)
            return proc
        except httpx.TransportError:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("mytrader serve did not start") from None
            time.sleep(0.2)


def page_loads(base: str, arena: str, warm: int = 5) -> tuple[float, float]:
    """Seconds from navigation start to the page fully drawn: cold, and warm (median)."""

    def load(driver: Any) -> float:
        driver.get(f"{base}/?arena={arena}")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            ms = driver.execute_script("return document.body.dataset.loadedMs")
            if ms:
                return float(ms) / 1000
            time.sleep(0.01)
        raise SystemExit(f"page for {arena} never finished loading")

    with chromium() as driver:
        cold = load(driver)
        warm_times = [load(driver) for _ in range(warm)]
    return cold, statistics.median(warm_times)


ENDPOINTS: list[tuple[str, dict[str, Any]]] = [
    ("/api/overview", {}),
    ("/api/arenas", {}),
    ("/api/leaderboard", {}),
    ("/api/equity", {}),
    ("/api/positions", {}),
    ("/api/agents", {}),
    ("/api/trades", {"limit": 50}),
    ("/api/logs", {"limit": 50}),
    ("/api/votes", {"limit": 50}),
    ("/api/usage", {"limit": 50}),
    ("/api/cycles", {"limit": 50}),
]


def api_times(base: str, arena: str, cycles: int, n: int) -> dict[str, tuple[float, float]]:
    out = {}
    with httpx.Client(base_url=base, timeout=30) as client:
        for path, params in ENDPOINTS:
            params = {**params, "arena": arena}
            if path == "/api/cycles":
                params["after"] = max(0, cycles - 50)
            times = []
            for _ in range(n):
                t = time.perf_counter()
                res = client.get(path, params=params)
                times.append((time.perf_counter() - t) * 1000)
                res.raise_for_status()
            out[path] = (pct(times, 0.5), pct(times, 0.95))
        # A deep page: the middle of the trades list, by cursor.
        middle = f"{cycles // 2}:{2**62}"  # a page's cursor: (cycle, id)
        times = []
        for _ in range(n):
            t = time.perf_counter()
            client.get(
                "/api/trades", params={"arena": arena, "limit": 50, "before": middle}
            ).raise_for_status()
            times.append((time.perf_counter() - t) * 1000)
        out["/api/trades (deep page)"] = (pct(times, 0.5), pct(times, 0.95))
    return out


def browser_push(base: str, store: ArenaStore, next_cycle: int, pushes: int) -> list[float]:
    """Seconds from a cycle's commit to the open page showing it."""
    latencies = []
    with chromium() as driver:
        driver.get(f"{base}/?arena={BIG}")
        while driver.execute_script("return document.getElementById('status').textContent") != (
            "live"
        ):
            time.sleep(0.02)
        for i in range(pushes):
            cycle = next_cycle + i
            rec = cycle_record(BIG, cycle)
            store.record_cycle(rec)
            committed = time.time()
            deadline = time.monotonic() + 20
            while driver.execute_script("return document.body.dataset.renderedCycle") != str(cycle):
                if time.monotonic() > deadline:
                    raise SystemExit(f"cycle {cycle} never reached the page")
                time.sleep(0.005)
            shown = float(driver.execute_script("return document.body.dataset.renderedAt")) / 1000
            latencies.append(shown - committed)
            time.sleep(0.3)
    return latencies


async def clients_push(
    base: str, store: ArenaStore, clients: int, first_cycle: int, pushes: int
) -> tuple[list[float], bool]:
    """Commit -> receipt, over every (cycle, client); and whether each client got every
    cycle exactly once, in order."""
    url = base.replace("http://", "ws://") + f"/ws?arena={BIG}&since={first_cycle - 1}"
    received: list[list[tuple[int, float]]] = [[] for _ in range(clients)]
    committed: dict[int, float] = {}

    async def client(i: int, ready: asyncio.Event, opened: list[int]) -> None:
        async with websockets.connect(url, proxy=None, max_size=2**24) as ws:
            opened.append(i)
            if len(opened) == clients:
                ready.set()
            while len(received[i]) < pushes:
                msg = json.loads(await ws.recv())
                if msg["type"] == "cycle":
                    received[i].append((msg["cycle"], time.time()))

    ready = asyncio.Event()
    opened: list[int] = []
    tasks = [asyncio.create_task(client(i, ready, opened)) for i in range(clients)]
    await asyncio.wait_for(ready.wait(), 60)
    await asyncio.sleep(0.5)
    for k in range(pushes):
        cycle = first_cycle + k
        await asyncio.to_thread(store.record_cycle, cycle_record(BIG, cycle))
        committed[cycle] = time.time()
        await asyncio.sleep(0.3)
    await asyncio.wait_for(asyncio.gather(*tasks), 60)
    latencies = [t - committed[c] for got in received for c, t in got]
    expected = list(range(first_cycle, first_cycle + pushes))
    exact = all([c for c, _ in got] == expected for got in received)
    return latencies, exact


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cycles", type=int, default=10_000)
    parser.add_argument("--postgres", help="a PostgreSQL URL (an empty database) instead of SQLite")
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--pushes", type=int, default=20)
    parser.add_argument("--requests", type=int, default=200, help="per endpoint")
    args = parser.parse_args()

    home = Path(tempfile.mkdtemp(prefix="mytrader-bench-dashboard-"))
    env = {"MYTRADER_HOME": str(home), "ARENA_ID": BIG}
    if args.postgres:
        env["DATABASE_URL"] = args.postgres
    settings = load_settings(_env_file=None, mytrader_home=home, database_url=args.postgres)
    store = open_store(settings)
    for arena in (BIG, SMALL):
        store.reset(arena)
    print(f"backend: {store.dialect}; recording {args.cycles:,} cycles of '{BIG}' ...", flush=True)
    # Shared machines: the load says how much of a figure is this code and how much waiting.
    print(f"  load average at start: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    built = build(store, BIG, args.cycles)
    build(store, SMALL, 100)
    print(f"  recorded in {built:.1f} s ({args.cycles / built:.0f} cycles/s)")
    if store.dialect == "postgres":
        # Planner statistics, as autovacuum gathers them on a database that lives on.
        import psycopg

        with psycopg.connect(args.postgres, autocommit=True) as conn:
            conn.execute("ANALYZE")

    port = free_port()
    server = start_server(env, port)
    base = f"http://127.0.0.1:{port}"
    try:
        print("\npage load in headless Chromium (navigation start -> every panel drawn)")
        cold_big, warm_big = page_loads(base, BIG)
        cold_small, warm_small = page_loads(base, SMALL)
        label = f"{args.cycles:,} cycles"
        print(f"  {'':26}{label:>14}{'baseline 100':>14}{'goal':>8}")
        print(
            f"  {'first load (cold browser)':26}{cold_big:>13.3f}s{cold_small:>13.3f}s{'<= 1 s':>8}"
        )
        print(f"  {'load (warm, median of 5)':26}{warm_big:>13.3f}s{warm_small:>13.3f}s")

        print(f"\nAPI latency, {args.requests} sequential requests each (ms, p50 / p95)")
        big = api_times(base, BIG, args.cycles, args.requests)
        small = api_times(base, SMALL, 100, args.requests)
        print(f"  {'endpoint':28}{label:>18}{'baseline 100':>18}  goal p95 <= 100")
        worst = 0.0
        for path in big:
            (b50, b95), (s50, s95) = big[path], small[path]
            worst = max(worst, b95)
            print(f"  {path:28}{b50:>8.1f} / {b95:>6.1f}{s50:>9.1f} / {s95:>6.1f}")
        print(f"  worst p95: {worst:.1f} ms ({'meets' if worst <= API_GOAL_MS else 'MISSES'} goal)")

        next_cycle = args.cycles + 1
        print(f"\npush latency, commit -> page shown in Chromium ({args.pushes} cycles)")
        page = browser_push(base, store, next_cycle, args.pushes)
        next_cycle += args.pushes
        print(
            f"  p50 {pct(page, 0.5) * 1000:.0f} ms, p95 {pct(page, 0.95) * 1000:.0f} ms,"
            f" max {max(page) * 1000:.0f} ms (goal <= 1 s)"
        )

        print(f"\npush latency, commit -> WebSocket clients ({args.pushes} cycles)")
        one, one_exact = asyncio.run(clients_push(base, store, 1, next_cycle, args.pushes))
        next_cycle += args.pushes
        many, many_exact = asyncio.run(
            clients_push(base, store, args.clients, next_cycle, args.pushes)
        )
        for who, lat, exact in (
            ("1 client (baseline)", one, one_exact),
            (f"{args.clients} concurrent clients", many, many_exact),
        ):
            print(
                f"  {who:26} p50 {pct(lat, 0.5) * 1000:5.0f} ms, p95 {pct(lat, 0.95) * 1000:5.0f}"
                f" ms, max {max(lat) * 1000:5.0f} ms; every cycle exactly once, in order: {exact}"
            )
        print(f"\nload average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    finally:
        server.terminate()
        server.wait(timeout=15)
        for arena in (BIG, SMALL):
            store.reset(arena)
        store.close()


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
