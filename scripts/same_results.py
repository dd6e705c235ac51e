"""Does a change leave the arena's results as they were? Runs the offline arena and a
backtest of the bundled sample through the `mytrader` command, and writes what they
produced — the tables' rows and the report's files — in a canonical form to a folder.
Comparing the folders of two commits says whether anything changed, and where.

    python scripts/same_results.py OUT            # write OUT/ (takes ~1-2 minutes)
    python scripts/same_results.py OUT --against BASE   # ... then compare with BASE/

Only the `mytrader` command and the files it writes are used, so the script runs the
same on any commit. Left out as they differ from run to run by design: timestamps of
writing (created_at, recorded_at), the backtest's run id (and the broker order ids made
from it) and wall-clock figures.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

CYCLES = 120
BACKTEST = ["--start", "2024-06-03", "--end", "2025-03-31"]
# broker_order_id: the simulated exchange derives it from the full client order id, which
# holds the backtest's random run id.
VOLATILE_COLUMNS = {"created_at", "recorded_at", "updated_at", "id", "broker_order_id"}
RUN_ID = re.compile(r"bt_[0-9a-f]{8}")
TABLES = ("cycles", "trades", "agent_logs", "portfolio_snapshots", "llm_usage", "sim_orders")


def run(args: list[str], home: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENROUTER", "ALPACA"))}
    env.update(MYTRADER_HOME=str(home), DATABASE_URL="", LANGSMITH_TRACING="false")
    cmd = [sys.executable, "-m", "mytrader.cli.main", *args]
    if not _has_module("mytrader.cli.main"):
        cmd = [sys.executable, "-m", "mytrader.cli", *args]
    subprocess.run(cmd, env=env, check=True, cwd=home, capture_output=True, text=True)


def _has_module(name: str) -> bool:
    import importlib.util

    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:
        return False


def dump_tables(db: Path) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    with sqlite3.connect(db) as conn:
        names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        for table in TABLES:
            if table not in names:
                continue
            cur = conn.execute(f"SELECT * FROM {table}")  # noqa: S608 (fixed names)
            cols = [d[0] for d in cur.description]
            keep = [i for i, c in enumerate(cols) if c not in VOLATILE_COLUMNS]
            rows = [json.dumps([r[i] for i in keep], default=str) for r in cur.fetchall()]
            out[table] = [json.dumps([cols[i] for i in keep])] + sorted(
                RUN_ID.sub("bt_RUN", row) for row in rows
            )
    return out


def canonical_files(folder: Path) -> dict[str, str]:
    files: dict[str, str] = {}
    for path in sorted(folder.rglob("*")):
        if path.suffix not in {".csv", ".json"}:
            continue
        text = RUN_ID.sub("bt_RUN", path.read_text())
        if path.name == "metrics.json":
            data = json.loads(text)
            data.get("run", {}).pop("elapsed_s", None)
            data.get("run", {}).pop("days_per_s", None)
            text = json.dumps(data, sort_keys=True, indent=1)
        files[str(path.relative_to(folder))] = text
    return files


def produce(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        run(["run", "--cycles", str(CYCLES)], home)
        (out / "arena_tables.json").write_text(
            json.dumps(dump_tables(home / "arena.sqlite"), indent=0)
        )
        bt_home = home / "bt"
        bt_home.mkdir()
        run(["backtest", *BACKTEST, "--out", str(bt_home / "report")], bt_home)
        (out / "backtest_tables.json").write_text(
            json.dumps(dump_tables(bt_home / "arena.sqlite"), indent=0)
        )
        for name, text in canonical_files(bt_home / "report").items():
            target = out / "report" / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)


def compare(a: Path, b: Path) -> int:
    names = sorted(
        {p.relative_to(a) for p in a.rglob("*") if p.is_file()}
        | {p.relative_to(b) for p in b.rglob("*") if p.is_file()}
    )
    differ = 0
    for name in names:
        left, right = a / name, b / name
        if not left.exists() or not right.exists():
            print(f"only in one: {name}")
            differ += 1
        elif left.read_bytes() != right.read_bytes():
            print(f"differs: {name}")
            differ += 1
    print(f"{len(names) - differ} of {len(names)} files identical")
    return 1 if differ else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--against", type=Path, help="a folder written by an earlier commit")
    args = parser.parse_args()
    produce(args.out)
    return compare(args.against, args.out) if args.against else 0


if __name__ == "__main__":
    sys.exit(main())
