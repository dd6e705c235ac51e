"""The arena's two halves, its tables and its checkpoint, must agree before a run goes on.

Issue 15: `arena.sqlite` emptied under an arena checkpointed at cycle N let `run` go on
at N+1 over an empty history; `checkpoints.sqlite` deleted let it start over at cycle 1
and overwrite the recorded cycles. Each half is lost, emptied or replaced by an older copy
here, on the real files (or the real Postgres tables), through real `mytrader` processes.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
import pytest

from mytrader.adapters.store.db import ArenaStore
from mytrader.app.storage import open_store
from mytrader.config import Settings
from tests.helpers import clean_env, free_port, make_settings
from tests.integration.test_cli import env_for, mytrader

ARENA = "arena"


def _settings(backend: dict[str, Any]) -> Settings:
    return make_settings(**backend)


def _ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def _refused(result: subprocess.CompletedProcess[str], *words: str, code: int = 3) -> str:
    """The run ended with exit `code` and a message (no traceback) holding every word."""
    text = result.stdout + result.stderr
    assert result.returncode == code, text
    assert "Traceback" not in text
    flat = " ".join(text.split())  # Rich wraps long lines
    for word in words:
        assert word in flat, (word, flat)
    return flat


def _home(backend: dict[str, Any]) -> Path:
    return Path(backend["mytrader_home"])


def _empty_tables(backend: dict[str, Any]) -> None:
    """SQLite: arena.sqlite emptied (0 bytes). PostgreSQL: every row of the arena gone."""
    if backend.get("database_url"):
        with open_store(_settings(backend)) as store:
            store.reset(ARENA)
        return
    for path in _home(backend).glob("arena.sqlite*"):
        path.unlink()
    (_home(backend) / "arena.sqlite").write_bytes(b"")


def _lose_checkpoints(backend: dict[str, Any]) -> None:
    url = backend.get("database_url")
    if url:
        with psycopg.connect(str(url), autocommit=True) as conn:
            conn.execute("TRUNCATE checkpoints, checkpoint_blobs, checkpoint_writes")
        return
    for path in _home(backend).glob("checkpoints.sqlite*"):
        path.unlink()


def _where(backend: dict[str, Any], name: str) -> str:
    """How the message names a half: the file, or the database URL."""
    url = backend.get("database_url")
    return url.rsplit("/", 1)[-1] if url else str(_home(backend) / name)


def _books_match_trades(store: ArenaStore) -> None:
    """Every account's cash in its last snapshot is its start plus its fills, to the cent."""
    trades = store.trades(ARENA)
    for snap in store.latest_snapshots(ARENA):
        cash = snap.starting_cash
        for t in trades:
            if t.account == snap.account and t.filled_qty and t.filled_avg_price is not None:
                amount = t.filled_qty * t.filled_avg_price
                cash += -amount if t.side == "buy" else amount
                cash -= t.fee
        assert snap.cash == cash, (snap.account, snap.cash, cash)
        assert isinstance(cash, Decimal)


def test_emptied_tables_refuse_the_run(backend, tmp_path):
    env = env_for(backend)
    _ok(mytrader(["run", "--cycles", "3", "--quiet"], env, tmp_path))
    _empty_tables(backend)

    refused = mytrader(["run"], env, tmp_path)
    _refused(
        refused,
        "tables empty",
        _where(backend, "arena.sqlite"),
        _where(backend, "checkpoints.sqlite"),
        "finished cycle 3",
        "mytrader reset --yes",
    )
    assert not re.search(r"^cycle 4 ", refused.stdout, re.MULTILINE)
    with open_store(_settings(backend)) as store:
        assert store.last_cycle(ARENA) is None
        assert store.heartbeats(ARENA) == []  # refused before any cycle started

    # The way on that the message names works: forget the arena, start over.
    _ok(mytrader(["reset", "--yes"], env, tmp_path))
    assert "cycle 1 " in _ok(mytrader(["run"], env, tmp_path))


def test_lost_checkpoints_refuse_the_run_and_keep_the_records(backend, tmp_path):
    env = env_for(backend)
    _ok(mytrader(["run", "--cycles", "3", "--quiet"], env, tmp_path))
    with open_store(_settings(backend)) as store:
        before = store.snapshots(ARENA)
        beats = len(store.heartbeats(ARENA, limit=100))
    _lose_checkpoints(backend)

    refused = mytrader(["run", "--cycles", "2"], env, tmp_path)
    _refused(
        refused,
        "checkpoint empty",
        "last cycle recorded 3",
        "no checkpoint",
        "start over at cycle 1",
        "mytrader reset --yes",
    )
    with open_store(_settings(backend)) as store:
        assert store.snapshots(ARENA) == before  # cycle 1 and 2 not overwritten
        assert len(store.heartbeats(ARENA, limit=100)) == beats


def test_an_older_copy_of_either_file_is_refused(tmp_path):
    home = tmp_path / "home"
    env = {"MYTRADER_HOME": str(home)}
    _ok(mytrader(["run", "--cycles", "2", "--quiet"], env, tmp_path))
    old = tmp_path / "cycle2"
    shutil.copytree(home, old)
    _ok(mytrader(["run", "--cycles", "3", "--quiet"], env, tmp_path))
    new = tmp_path / "cycle5"
    shutil.copytree(home, new)

    shutil.copy(old / "checkpoints.sqlite", home / "checkpoints.sqlite")
    text = _refused(mytrader(["run"], env, tmp_path), "tables ahead", "cycles 3-5 again")
    assert "mytrader repair" not in text

    shutil.copy(new / "checkpoints.sqlite", home / "checkpoints.sqlite")
    shutil.copy(old / "arena.sqlite", home / "arena.sqlite")
    text = _refused(mytrader(["run"], env, tmp_path), "tables behind", "records of cycles 3-5")
    assert "mytrader repair" not in text  # three cycles lost: nothing holds their rows


def test_tables_one_cycle_behind_are_recorded_again_by_repair(tmp_path):
    """The power cut after the checkpoint's write, before the record's commit reached the
    disk: the state still holds that cycle's rows, and `repair` writes them again."""
    home = tmp_path / "home"
    env = {"MYTRADER_HOME": str(home)}
    _ok(mytrader(["run", "--cycles", "6", "--quiet"], env, tmp_path))
    saved = (home / "arena.sqlite").read_bytes()
    _ok(mytrader(["run", "--quiet"], env, tmp_path))
    settings = make_settings(mytrader_home=home)
    with open_store(settings) as store:
        expected = [s for s in store.snapshots(ARENA) if s.cycle == 7]
    (home / "arena.sqlite").write_bytes(saved)

    _refused(mytrader(["run"], env, tmp_path), "tables behind", "mytrader repair --yes")
    repaired = mytrader(["repair", "--yes"], env, tmp_path)
    assert "cycle 7 recorded again" in " ".join(_ok(repaired).split())
    with open_store(settings) as store:
        assert [s for s in store.snapshots(ARENA) if s.cycle == 7] == expected
    assert "cycle 8 " in _ok(mytrader(["run", "--cycles", "2"], env, tmp_path))
    with open_store(settings) as store:
        assert store.last_cycle(ARENA) == 9
        _books_match_trades(store)


# Records cycle 3, then dies before LangGraph writes the record step's checkpoint.
_KILL_AFTER_RECORD = """
import os
from mytrader.config import load_settings
from mytrader.app.runner import open_arena
from mytrader.app.storage import open_store

settings = load_settings()
real = open_store(settings)

class DyingStore:
    def __getattr__(self, name):
        return getattr(real, name)

    def record_cycle(self, rec):
        real.record_cycle(rec)
        if rec.cycle == 3:
            os._exit(9)

with open_arena(settings, store=DyingStore()) as arena:
    for _ in range(5):
        arena.run_cycle()
"""


def test_recorded_but_not_checkpointed_still_resumes(backend, tmp_path):
    """The normal difference: the tables one cycle ahead of a checkpoint pending at
    `record`. The resumed cycle reruns `record`, which rewrites its own rows."""
    env = env_for(backend)
    killed = subprocess.run(
        [sys.executable, "-c", _KILL_AFTER_RECORD],
        env={**clean_env(), **env},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert killed.returncode == 9, killed.stderr
    with open_store(_settings(backend)) as store:
        assert store.last_cycle(ARENA) == 3
        rows = len(store.trades(ARENA))

    resumed = _ok(mytrader(["run", "--cycles", "2"], env, tmp_path))
    assert "cycle 3 " in resumed and "(resumed)" in resumed and "cycle 4 " in resumed
    with open_store(_settings(backend)) as store:
        assert store.last_cycle(ARENA) == 4
        trades = store.trades(ARENA)
        assert len({t.client_order_id for t in trades}) == len(trades)
        assert len([t for t in trades if t.cycle <= 3]) == rows
        _books_match_trades(store)


@pytest.mark.parametrize("corrupt", ["junk", "truncated"])
def test_a_damaged_checkpoint_file_stops_the_commands_that_read_it(tmp_path, corrupt):
    home = tmp_path / "home"
    env = {"MYTRADER_HOME": str(home)}
    _ok(mytrader(["run", "--cycles", "3", "--quiet"], env, tmp_path))
    path = home / "checkpoints.sqlite"
    _damage(path, corrupt)
    damaged = path.read_bytes()
    commands = [["run"], ["status"], ["repair", "--yes"], ["reconcile"], ["reset", "--yes"]]
    for command in commands if corrupt == "junk" else commands[:2]:
        _refused(mytrader(command, env, tmp_path), str(path), "damaged or not a SQLite")
    assert path.read_bytes() == damaged  # nothing written over it
    _ok(mytrader(["leaderboard"], env, tmp_path))  # it reads only the tables


def _damage(path: Path, how: str) -> None:
    for extra in path.parent.glob(path.name + "-*"):  # -wal, -shm
        extra.unlink()
    if how == "junk":
        path.write_bytes(b"this is not a database, it was overwritten\n" * 200)
    elif how == "truncated":
        with path.open("r+b") as f:
            f.truncate(8192)
    elif how == "folder":
        path.unlink()
        path.mkdir()
        (path / "something").write_text("x")
    else:
        raise AssertionError(how)


# The commands of the finding: they ended with a traceback.
FOUND = [["run"], ["leaderboard"], ["logs"], ["status"]]
# Every other command that opens the tables.
OTHERS = [
    ["trades"],
    ["reconcile"],
    ["repair", "--yes"],
    ["backtest", "--start", "2024-06-03", "--end", "2024-06-07"],
    ["reset", "--yes"],
    ["serve", "--port", str(free_port())],  # a healthy store would serve on it forever
]


@pytest.mark.parametrize(
    ("corrupt", "says", "commands"),
    [
        ("junk", "damaged or not a SQLite database", FOUND + OTHERS),
        ("truncated", "damaged or not a SQLite database", FOUND),
        ("folder", "is a folder, not a database file", FOUND),
    ],
)
def test_a_damaged_arena_file_is_a_message(tmp_path, corrupt, says, commands):
    home = tmp_path / "home"
    env = {"MYTRADER_HOME": str(home)}
    _ok(mytrader(["run", "--cycles", "3", "--quiet"], env, tmp_path))
    path = home / "arena.sqlite"
    _damage(path, corrupt)
    damaged = path.is_file() and path.read_bytes()
    for command in commands:
        _refused(mytrader(command, env, tmp_path), str(path), says, "restore it")
    assert (path.is_file() and path.read_bytes()) == damaged  # nothing written over it


def test_mytrader_home_a_file_is_a_message(tmp_path):
    home = tmp_path / "home"
    home.write_text("not a folder")
    env = {"MYTRADER_HOME": str(home)}
    for command in (["run"], ["leaderboard"], ["status"], ["backtest", "--start", "2024-06-03"]):
        # A bad setting (exit 2), named by the settings' check before any file is opened.
        _refused(mytrader(command, env, tmp_path), "MYTRADER_HOME", "is a file", code=2)
