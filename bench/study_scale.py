"""A study at scale: many backtests one after another against the same study on Dask.

    python bench/study_scale.py [--years 10] [--variants NAME:KEY=VALUE ...] [--quick]
                                [--llm-days 20] [--delay 1.0] [--no-llm]

Part 1, house models on the S&P 500 file (502 symbols): 2 variants (vote_mode majority and
weighted) x the yearly windows of the data's last 10 calendar years (each the first to the
last trading date of its year; the last year is as far as the data goes) = 20 backtests,
run three ways, each in a fresh process with its own temporary MYTRADER_HOME (SQLite tables,
no DATABASE_URL): one after another in that process (the engine's workers=0, `run_one` per
task: each run's own time is RunResult.elapsed_s), then on a LocalCluster of 1 and of 2
worker processes (the engine's own `dask_client`, one thread per worker, `run_on_worker`
per task, as `run_tasks` submits them). Printed: the sum of the single runs (the baseline,
measured in the same run of this script), each study's wall time (cluster start-up
included, shown apart), the parallel efficiency = sum of the single runs / (workers x wall),
the speed-up of 2 workers over 1, each worker's peak RSS (read on the workers before the
cluster closes), and whether study.json is byte-identical across the three ways.

Part 2, real-model settings (`models = "openrouter"` for every persona) against a local
OpenAI-compatible server started in this process, answering every request with a HOLD
decision after `--delay` seconds: 2 windows of `--llm-days` trading days of the bundled
sample x 2 variants, one after another against 2 workers, each way with a fresh home, so its
LLM cache (<MYTRADER_HOME>/llm_cache.sqlite) starts empty. The two variants differ only in
the vote, so their personas send the same requests; each run keeps its answers to itself
(the cache's namespace), so both ways ask the server the same requests, printed against
the expected (runs x days x personas: a HOLD never trades, so no critique is due).

`--quick`: the bundled sample with 3 monthly windows and 2-day LLM windows (about a minute).
Nothing here asserts a time: the figures and their baselines are printed.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]  # the checkout: mytrader and tests.servers
_NAME = Path("shared") / "data" / "sp500_daily_2005_2025.csv.gz"
# ../shared/data from the main checkout; a worktree sits one level deeper.
BIG = next(
    (p / _NAME for p in Path(__file__).resolve().parents if (p / _NAME).exists()),
    Path(__file__).resolve().parents[2] / _NAME,
)
DEFAULT_VARIANTS = ["majority:vote_mode=majority", "weighted:vote_mode=weighted"]
LLM_VARIANTS = [
    "majority:vote_mode=majority,models=openrouter",
    "weighted:vote_mode=weighted,models=openrouter",
]
LLM_ENV = {  # the real-model settings of part 2 (besides the server's address and key)
    "LLM_MAX_RETRIES": "0",
    "LLM_TIMEOUT_S": "30",
}
CLEARED = ("DATABASE_URL", "MYTRADER_HOME", "DASK_SCHEDULER_ADDRESS", "LANGSMITH_TRACING")


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


# --- one way of running one study, in its own process --------------------------------------


def measure(raw_spec: dict[str, Any], workers: int) -> dict[str, Any]:
    """Plan the study as `mytrader study` does, run its tasks `workers` ways, summarize."""
    import mytrader
    from mytrader.app.storage import open_store
    from mytrader.backtest.data import load_history
    from mytrader.config import load_settings
    from mytrader.study.command import check_variants, planned
    from mytrader.study.spec import spec_of
    from mytrader.study.summary import study_json, summarize
    from mytrader.study.task import RunResult, RunTask, file_digest, run_one, shipped_settings

    spec = spec_of(raw_spec)
    settings = load_settings()
    base = shipped_settings(settings)
    history = load_history(spec.data)  # kept, as study_command keeps it, while runs go on
    check_variants(spec, base)
    runs = planned(spec, settings, history)
    with open_store(settings):  # the tables, created once before the workers
        pass
    digest = file_digest(spec.data) if spec.data else None
    tasks = [RunTask(run=r, data=spec.data, data_digest=digest, settings=base) for r in runs]
    results: dict[str, RunResult] = {}
    out: dict[str, Any] = {"mytrader": mytrader.__file__, "home": str(settings.mytrader_home)}
    t0 = time.perf_counter()
    if workers == 0:
        for task in tasks:
            r = run_one(task, worker="in-process")
            results[r.run_id] = r
        out.update(wall_s=time.perf_counter() - t0, startup_s=0.0, close_s=0.0, workers_mb={})
    else:
        from distributed import as_completed

        from mytrader.study.engine import TASK_RETRIES, dask_client, run_on_worker

        with dask_client(workers, None) as client:
            up = time.perf_counter()
            futures = [
                client.submit(
                    run_on_worker,
                    task,
                    key=f"study-run-{task.run.run_id}",
                    pure=False,
                    retries=TASK_RETRIES,
                )
                for task in tasks
            ]
            for future in as_completed(futures):
                r = future.result()
                results[r.run_id] = r
            done = time.perf_counter()
            names = {a: str(w["name"]) for a, w in client.scheduler_info()["workers"].items()}
            kib = client.run(lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
            workers_mb = {names.get(a, a): v / 1024 for a, v in sorted(kib.items())}
        out.update(
            wall_s=done - t0,
            startup_s=up - t0,
            close_s=time.perf_counter() - done,
            workers_mb=workers_mb,
        )
    ordered = [results[r.run_id] for r in runs]
    out.update(
        runs=len(ordered),
        run_s=[r.elapsed_s for r in ordered],
        days=[len(r.dates) for r in ordered],
        by_worker=dict(Counter(r.worker for r in ordered)),
        interrupted=sum(r.interrupted for r in ordered),
        study_json=study_json(summarize(spec, runs, results)),
        driver_mb=peak_rss_mb(),
    )
    return out


def machine_busy_s() -> float:
    """CPU seconds the whole machine has been busy (all cores; /proc/stat), 0 elsewhere."""
    try:
        fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    except OSError:
        return 0.0
    user, nice, system, _idle, _iowait, irq, softirq = (int(x) for x in fields[:7])
    return (user + nice + system + irq + softirq) / os.sysconf("SC_CLK_TCK")


def own_cpu_s() -> float:
    """CPU seconds of this process and of its finished children (theirs included)."""
    return sum(
        r.ru_utime + r.ru_stime
        for r in (
            resource.getrusage(resource.RUSAGE_SELF),
            resource.getrusage(resource.RUSAGE_CHILDREN),
        )
    )


def child(raw_spec: dict[str, Any], workers: int, env: dict[str, str]) -> dict[str, Any]:
    """`measure` in a fresh process (its peak RSS its own) with its own temporary home; also
    the CPU time other processes of the machine took meanwhile (the benchmark's baseline
    assumes an otherwise idle machine: this says whether it was)."""
    busy0, own0, t0 = machine_busy_s(), own_cpu_s(), time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="study-scale-") as tmp:
        full = {k: v for k, v in os.environ.items() if k not in CLEARED}
        full.update(env)
        full["MYTRADER_HOME"] = str(Path(tmp) / "home")
        full["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), full.get("PYTHONPATH")]))
        arg = json.dumps({"spec": raw_spec, "workers": workers})
        proc = subprocess.run(
            [sys.executable, str(Path(__file__).resolve()), "--child", arg],
            capture_output=True,
            text=True,
            env=full,
            cwd=tmp,  # no stray .env is read; Dask's scratch space goes here too
        )
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout + proc.stderr)
        raise SystemExit(f"the {workers}-worker run failed (exit {proc.returncode})")
    out = dict(json.loads(proc.stdout.strip().splitlines()[-1]))
    out["others_cpu_s"] = max(0.0, machine_busy_s() - busy0 - (own_cpu_s() - own0))
    out["process_s"] = time.perf_counter() - t0
    return out


# --- the windows, from the data's calendar ----------------------------------------------------


def tradable(data: Path | None) -> list[str]:
    """The data's trading dates that have the indicators' warm-up behind them."""
    from mytrader.backtest.data import load_history
    from mytrader.config import load_settings

    warmup = load_settings(_env_file=None).warmup_days
    return list(load_history(data).calendar[warmup:])


def last_years(dates: list[str], years: int) -> list[list[str]]:
    from datetime import date

    from mytrader.domain.study_grid import yearly_windows

    windows = yearly_windows([date.fromisoformat(d) for d in dates])[-years:]
    return [[w.start.isoformat(), w.end.isoformat()] for w in windows]


def last_months(dates: list[str], months: int) -> list[list[str]]:
    """The last `months` whole calendar months (the data's last month may be cut short)."""
    by_month: dict[str, list[str]] = {}
    for d in dates:
        by_month.setdefault(d[:7], []).append(d)
    chosen = list(by_month.values())[-months - 1 : -1]
    return [[ds[0], ds[-1]] for ds in chosen]


def last_spans(dates: list[str], count: int, days: int) -> list[list[str]]:
    """`count` back-to-back windows of `days` trading dates, ending at the data's last."""
    tail = dates[-count * days :]
    return [[tail[i], tail[i + days - 1]] for i in range(0, len(tail), days)]


def study(study_id: str, data: Path | None, windows: list[list[str]], variants: list[str]) -> dict:
    from mytrader.study.spec import parse_variant

    raw: dict[str, Any] = {
        "id": study_id,
        "windows": windows,
        "variants": [parse_variant(v) for v in variants],
    }
    if data is not None:
        raw["data"] = str(data)
    return raw


# --- the server of part 2 -----------------------------------------------------------------


def holder(delay: float) -> Any:
    from tests.servers import Reply

    def answer(request: dict[str, Any]) -> Reply:
        decision = {"decision": "HOLD", "reasoning": "nothing to do", "confidence": 40}
        return Reply.json(decision, delay=delay)

    return answer


# --- the report ---------------------------------------------------------------------------


def others_share(m: dict[str, Any]) -> float:
    """The share of all cores that other processes took while a mode ran."""
    return m["others_cpu_s"] / ((os.cpu_count() or 1) * m["process_s"]) if m["process_s"] else 0.0


def mode_line(name: str, m: dict[str, Any]) -> str:
    runs = m["run_s"]
    up = (
        f" (cluster start {m['startup_s']:.1f} s included; its close {m['close_s']:.1f} s not)"
        if m["workers_mb"]
        else ""
    )
    rss = (
        "peak RSS per worker "
        + ", ".join(f"{w}: {mb:.0f} MB" for w, mb in m["workers_mb"].items())
        + f" (driver {m['driver_mb']:.0f} MB)"
        if m["workers_mb"]
        else f"peak RSS {m['driver_mb']:.0f} MB (driver and runs in one process)"
    )
    cores = os.cpu_count() or 1
    share = others_share(m)
    return (
        f"  {name}: wall {m['wall_s']:.1f} s{up}\n"
        f"    runs: sum {sum(runs):.1f} s, first {runs[0]:.1f} s (with the data's load), "
        f"median {statistics.median(runs):.1f} s, max {max(runs):.1f} s; runs per worker "
        f"{dict(sorted(m['by_worker'].items()))}\n"
        f"    {rss}\n"
        f"    other processes on the machine meanwhile: {m['others_cpu_s']:.0f} CPU-s "
        f"({share:.0%} of {cores} cores over {m['process_s']:.0f} s)"
    )


def part1(args: argparse.Namespace) -> dict[str, Any]:
    if args.quick:
        data, label = None, "bundled sample"
        windows = last_months(tradable(None), 3)
        kind = f"{len(windows)} monthly windows"
    elif BIG.exists():
        data, label = BIG, "S&P 500"
        windows = last_years(tradable(BIG), args.years)
        kind = f"{len(windows)} yearly windows"
    else:
        raise SystemExit(f"the S&P 500 file is not at {BIG} (use --quick for the sample)")
    raw = study("study-scale", data, windows, args.variants)
    n = len(windows) * len(args.variants)
    print(
        f"part 1: {n} runs = {len(args.variants)} variants ({', '.join(args.variants)}) x "
        f"{kind} ({windows[0][0]} .. {windows[-1][1]}), {label}, house models"
    )
    modes = {}
    for workers, name in ((0, "one after another"), (1, "1 worker"), (2, "2 workers")):
        modes[workers] = m = child(raw, workers, {})
        print(mode_line(name, m), flush=True)
    print(f"  mytrader imported from {modes[0]['mytrader']}")
    return {"modes": modes, "label": label, "kind": kind, "n": n, "variants": len(args.variants)}


def part2(args: argparse.Namespace) -> dict[str, Any]:
    from mytrader.config import PERSONAS
    from tests.servers import ChatServer

    days = args.llm_days if args.llm_days else (2 if args.quick else 20)
    windows = last_spans(tradable(None), 2, days)
    raw = study("study-scale-llm", None, windows, args.llm_variants)
    runs = len(windows) * len(args.llm_variants)
    expected = runs * days * len(PERSONAS)
    print(
        f"part 2: {runs} runs = {len(args.llm_variants)} variants "
        f"({', '.join(args.llm_variants)}) x {len(windows)} windows of {days} trading days "
        f"({', '.join(f'{a}..{b}' for a, b in windows)}), bundled sample"
    )
    settings = ", ".join(f"{k}={v}" for k, v in LLM_ENV.items())
    print(
        f"  real-model settings: models=openrouter for {', '.join(PERSONAS)}; {settings}; "
        "AGENT_TOOLS and CRITIQUE_INTERVAL as default; a local server answers every request "
        f"with a HOLD decision after {args.delay:g} s; each way a fresh home (its LLM cache empty)"
    )
    modes: dict[int, dict[str, Any]] = {}
    with ChatServer(default=holder(args.delay)) as srv:
        env = {
            "OPENROUTER_API_KEY": "sk-or-bench",
            "OPENROUTER_BASE_URL": srv.base_url,
            **LLM_ENV,
        }
        for workers, name in ((0, "one after another"), (2, "2 workers")):
            before = len(srv.chat_requests)
            m = child(raw, workers, env)
            m["requests"] = len(srv.chat_requests) - before
            modes[workers] = m
            print(
                f"{mode_line(name, m)}\n    requests served: {m['requests']} "
                f"(expected {expected} = {runs} runs x {days} days x {len(PERSONAS)} personas;"
                f" {m['requests'] / runs:.0f} per run, {m['requests'] / runs / days:.1f} per day)",
                flush=True,
            )
        errors = list(srv.errors)
    if errors:
        print(f"  server errors: {errors[:3]}{' ...' if len(errors) > 3 else ''}")
    same = modes[0]["study_json"] == modes[2]["study_json"]
    print(f"  study.json identical one after another and on 2 workers: {'yes' if same else 'NO'}")
    return {
        "modes": modes,
        "runs": runs,
        "days": days,
        "windows": len(windows),
        "variants": len(args.llm_variants),
        "expected": expected,
        "errors": len(errors),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--years", type=int, default=10, help="yearly windows: the data's last N")
    ap.add_argument("--variants", nargs="+", default=DEFAULT_VARIANTS, metavar="NAME:K=V,...")
    ap.add_argument("--llm-variants", nargs="+", default=LLM_VARIANTS, metavar="NAME:K=V,...")
    ap.add_argument("--llm-days", type=int, default=None, help="part 2 window (20; quick: 2)")
    ap.add_argument("--delay", type=float, default=1.0, help="seconds per model answer")
    ap.add_argument("--quick", action="store_true", help="the bundled sample, 3 months")
    ap.add_argument("--no-llm", action="store_true", help="part 1 only")
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        job = json.loads(args.child)
        print(json.dumps(measure(job["spec"], int(job["workers"]))))
        return 0
    sys.path.insert(0, str(ROOT))  # tests.servers

    t0 = time.perf_counter()
    p1 = part1(args)
    p2 = None if args.no_llm else part2(args)

    seq, one, two = (p1["modes"][w] for w in (0, 1, 2))
    base = sum(seq["run_s"])
    same = seq["study_json"] == one["study_json"] == two["study_json"]
    rss1, rss2 = (", ".join(f"{mb:.0f}" for mb in m["workers_mb"].values()) for m in (one, two))
    print(
        f"study_scale: {p1['n']} runs ({p1['variants']} variants x {p1['kind']}, "
        f"{p1['label']}, house models)"
    )
    print(f"  one after another: sum of runs {base:.1f} s (wall {seq['wall_s']:.1f} s)")
    print(
        f"  1 worker: {one['wall_s']:.1f} s, efficiency {base / one['wall_s']:.2f};  "
        f"2 workers: {two['wall_s']:.1f} s, efficiency {base / (2 * two['wall_s']):.2f}, "
        f"speed-up {one['wall_s'] / two['wall_s']:.2f}x"
    )
    print(
        f"  (walls include the cluster's start-up: {one['startup_s']:.1f} s and "
        f"{two['startup_s']:.1f} s; without it: efficiency "
        f"{base / (one['wall_s'] - one['startup_s']):.2f} and "
        f"{base / (2 * (two['wall_s'] - two['startup_s'])):.2f})"
    )
    print(
        f"  peak RSS per worker: 1 worker {rss1} MB; 2 workers {rss2} MB "
        f"(one after another, driver and runs in one process: {seq['driver_mb']:.0f} MB)"
    )
    print(f"  study.json identical across modes: {'yes' if same else 'NO'}")
    ok = same
    if p2 is not None:
        a, b = p2["modes"][0], p2["modes"][2]
        ideal = p2["runs"] * p2["days"] * args.delay
        print(
            f"  real models (local server, {args.delay:g} s per answer): {p2['windows']} windows x "
            f"{p2['variants']} variants x {p2['days']} days"
        )
        print(
            f"    one after another: {a['wall_s']:.1f} s;  2 workers: {b['wall_s']:.1f} s "
            f"(speed-up {a['wall_s'] / b['wall_s']:.2f}x; ideal {ideal:.0f} s and "
            f"{ideal / 2:.0f} s = 2x: a day's 3 calls in parallel, {args.delay:g} s a day)"
        )
        print(
            f"    requests served: {a['requests']} and {b['requests']} "
            f"(expected {p2['expected']} each); study.json identical: "
            f"{'yes' if a['study_json'] == b['study_json'] else 'NO'}"
        )
        ok = ok and a["study_json"] == b["study_json"] and p2["errors"] == 0
    every = [*p1["modes"].values(), *(p2["modes"].values() if p2 else [])]
    print(
        "  other processes' share of the machine's cores during each mode: "
        + ", ".join(f"{others_share(m):.0%}" for m in every)
        + " (0% = the figures above are the study's alone)"
    )
    print(f"  (benchmark total {time.perf_counter() - t0:.0f} s)")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
