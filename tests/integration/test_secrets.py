"""Secrets never reach the logs, the database or the checkpoints.

A full CLI run with an OpenRouter key and a Postgres URL carrying a password (trust auth
ignores it), verbose logging on: then every byte the run left behind is searched.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest

from tests.integration.test_cli import mytrader
from tests.servers import ChatServer, Reply

OPENROUTER_KEY = "sk-or-SECRET-scan-7f3a"
DB_PASSWORD = "pw-SECRET-scan-91c2"


def with_password(url: str) -> str:
    parts = urlsplit(url)
    user = parts.username or "postgres"
    host = parts.hostname or "127.0.0.1"
    netloc = f"{user}:{DB_PASSWORD}@{host}:{parts.port or 5432}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def dump_postgres(url: str) -> str:
    """Every row of every table of the database, as text."""
    out = []
    with psycopg.connect(url) as conn:
        tables = conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
        ).fetchall()
        for (table,) in tables:
            rows = conn.execute(f'SELECT * FROM "{table}"').fetchall()  # noqa: S608
            out.extend(repr(r) for r in rows)
    return "\n".join(out)


def answer(request: dict[str, Any]) -> Reply:
    return Reply.json({"decision": "HOLD", "reasoning": "calm market", "confidence": 50})


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
def test_no_secret_in_output_database_or_checkpoints(backend, tmp_path):
    url = with_password(backend["database_url"])
    with ChatServer(default=answer) as srv:
        env = {
            "MYTRADER_HOME": str(backend["mytrader_home"]),
            "DATABASE_URL": url,
            "OPENROUTER_API_KEY": OPENROUTER_KEY,
            "OPENROUTER_BASE_URL": srv.base_url,
        }
        run = mytrader(["--verbose", "run", "--cycles", "2"], env, tmp_path)
        assert run.returncode == 0, run.stderr
        assert srv.chat_requests, "the agents must have used the model"
        board = mytrader(["leaderboard", "--json"], env, tmp_path)
    dump = dump_postgres(url)
    assert "calm market" in dump  # the model's answers are in the database...
    everything = run.stdout + run.stderr + board.stdout + board.stderr + dump
    for secret in (OPENROUTER_KEY, DB_PASSWORD):  # ...its key and the password are not
        assert secret not in everything


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_no_secret_in_sqlite_files(backend, tmp_path):
    with ChatServer(default=answer) as srv:
        env = {
            "MYTRADER_HOME": str(backend["mytrader_home"]),
            "OPENROUTER_API_KEY": OPENROUTER_KEY,
            "OPENROUTER_BASE_URL": srv.base_url,
        }
        run = mytrader(["--verbose", "run", "--cycles", "2"], env, tmp_path)
        assert run.returncode == 0, run.stderr
    files = list(backend["mytrader_home"].glob("*.sqlite*"))
    assert {f.name for f in files} >= {"arena.sqlite", "checkpoints.sqlite"}
    blob = b"".join(f.read_bytes() for f in files)
    assert b"calm market" in blob  # the model's answers are in there...
    assert OPENROUTER_KEY.encode() not in blob  # ...its key is not
    assert OPENROUTER_KEY not in run.stdout + run.stderr
