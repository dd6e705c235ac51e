"""The `mytrader` command in separate processes: state is kept between runs."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest

from mytrader.app.storage import open_store, store_config
from tests.helpers import clean_env, make_settings, run_cli


def mytrader(args: list[str], env: dict[str, str], cwd) -> subprocess.CompletedProcess[str]:
    return run_cli(args, env, cwd)


def env_for(backend: dict[str, Any]) -> dict[str, str]:
    env = {"MYTRADER_HOME": str(backend["mytrader_home"])}
    if backend.get("database_url"):
        env["DATABASE_URL"] = backend["database_url"]
    return env


def test_run_continues_across_processes_and_leaderboard_json(backend, tmp_path):
    env = env_for(backend)
    first = mytrader(["run", "--cycles", "3"], env, tmp_path)
    assert first.returncode == 0, first.stderr
    assert "cycle 3" in first.stdout and "vote" in first.stdout
    second = mytrader(["run", "--cycles", "2"], env, tmp_path)
    assert second.returncode == 0, second.stderr
    assert "cycle 4" in second.stdout and "cycle 5" in second.stdout
    assert "cycle 1 " not in second.stdout
    board = mytrader(["leaderboard", "--json"], env, tmp_path)
    assert board.returncode == 0, board.stderr
    rows = json.loads(board.stdout)
    assert {r["account"] for r in rows} == {"grok", "deepseek", "openai", "collaborative"}
    for row in rows:
        assert {
            "account",
            "equity",
            "return_pct",
            "cash",
            "positions_value",
            "trades",
            "fees",
        } <= set(row)
        assert row["cycle"] == 5


def test_reset_starts_over(backend, tmp_path):
    env = env_for(backend)
    assert mytrader(["run", "--cycles", "2", "--quiet"], env, tmp_path).returncode == 0
    reset = mytrader(["reset", "--yes"], env, tmp_path)
    assert reset.returncode == 0, reset.stderr
    assert json.loads(mytrader(["leaderboard", "--json"], env, tmp_path).stdout) == []
    again = mytrader(["run", "--cycles", "1"], env, tmp_path)
    assert "cycle 1" in again.stdout


def test_bad_setting_is_named(tmp_path):
    out = mytrader(["run"], {"MYTRADER_HOME": str(tmp_path), "VOTE_MODE": "dictator"}, tmp_path)
    assert out.returncode == 2
    assert "VOTE_MODE" in out.stdout


def test_python_m_mytrader_cli_is_the_same_command(tmp_path):
    # `python -m mytrader.cli` (cli/__main__.py) runs the app `python -m mytrader.cli.main` runs.
    env = {**clean_env(), "MYTRADER_HOME": str(tmp_path), "VOTE_MODE": "dictator"}
    for module in ("mytrader.cli", "mytrader.cli.main"):
        out = subprocess.run(
            [sys.executable, "-m", module, "run"],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
        )
        assert out.returncode == 2 and "VOTE_MODE" in out.stdout, (module, out.stderr)


def test_bad_database_url_is_named_without_echoing_it(tmp_path):
    secret = "mysql://u:hunter2@h/db"
    out = mytrader(["run"], {"MYTRADER_HOME": str(tmp_path), "DATABASE_URL": secret}, tmp_path)
    assert out.returncode == 2
    assert "DATABASE_URL" in out.stdout and "hunter2" not in out.stdout + out.stderr


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_history_exhaustion_is_said_clearly(backend, tmp_path):
    data = tmp_path / "short.csv"
    lines = ["symbol,date,open,high,low,close,volume"]
    for day in range(40):
        date = f"2024-{1 + day // 28:02d}-{1 + day % 28:02d}"
        for sym, base in (("AAA", 10), ("BBB", 20)):
            px = base + day * 0.1
            lines.append(f"{sym},{date},{px:.4f},{px + 1:.4f},{px - 1:.4f},{px:.4f},{1000 + day}")
    data.write_text("\n".join(lines) + "\n")
    env = {**env_for(backend), "MARKET_DATA_PATH": str(data), "WARMUP_DAYS": "36"}
    out = mytrader(["run", "--cycles", "10"], env, tmp_path)
    assert out.returncode == 0, out.stderr
    assert "cycle 4" in out.stdout and "cycle 5" not in out.stdout
    assert "exhausted" in out.stdout


def test_a_second_run_of_a_busy_arena_is_refused(backend, tmp_path):
    from mytrader.adapters.store.lock import arena_lock

    settings = make_settings(**backend)
    env = env_for(backend)
    with arena_lock(store_config(settings), settings.arena_id):
        busy = mytrader(["run", "--cycles", "1"], env, tmp_path)
    assert busy.returncode == 3
    assert "being run by another process" in busy.stdout
    free = mytrader(["run", "--cycles", "1"], env, tmp_path)  # released: runs again
    assert free.returncode == 0, free.stderr
    assert "cycle 1" in free.stdout


def test_a_released_arena_can_be_taken_again_at_once(backend):
    """The lock is free the moment its holder leaves (PostgreSQL: released before the
    session closes, not when the server gets round to ending the session)."""
    from mytrader.adapters.store.lock import arena_lock

    config = store_config(make_settings(**backend))
    for _ in range(30):
        with arena_lock(config, "arena"):
            pass


def test_unreachable_database_and_missing_data_are_reported(tmp_path):
    env = {"MYTRADER_HOME": str(tmp_path), "DATABASE_URL": "postgresql://u:pw-x9@127.0.0.1:1/db"}
    out = mytrader(["run"], env, tmp_path)
    assert out.returncode == 3 and "Traceback" not in out.stderr
    assert "127.0.0.1:1" in out.stdout and "pw-x9" not in out.stdout + out.stderr
    data = {"MYTRADER_HOME": str(tmp_path), "MARKET_DATA_PATH": str(tmp_path / "none.csv")}
    out = mytrader(["run"], data, tmp_path)
    assert out.returncode == 3 and "none.csv" in out.stdout


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_logs_and_trades_show_the_last_cycles(backend, tmp_path):
    env = env_for(backend)
    assert mytrader(["run", "--cycles", "12", "--quiet"], env, tmp_path).returncode == 0
    settings = make_settings(**backend)

    with open_store(settings) as store:
        fills = store.trades(settings.arena_id, since_cycle=3)
        decisions = store.agent_logs(settings.arena_id, agent="grok", kind="DECISION")
    logs = mytrader(
        ["logs", "--agent", "grok", "--kind", "decision", "--cycles", "2"], env, tmp_path
    )
    assert logs.returncode == 0, logs.stderr
    assert logs.stdout.count("· grok · DECISION") == 2
    assert "cycle 12 · grok" in logs.stdout and "cycle 10 ·" not in logs.stdout
    assert decisions[-1].content.split('"reasoning":"')[1][:20] in logs.stdout.replace("\n", "")
    table = mytrader(["trades", "--cycles", "10"], env, tmp_path)
    assert table.returncode == 0, table.stderr
    assert fills, "12 cycles of house models place orders"
    for t in fills:
        assert t.symbol in table.stdout and t.status in table.stdout
    bad = mytrader(["logs", "--kind", "dream"], env, tmp_path)
    assert bad.returncode == 2 and "--kind" in bad.stdout
