"""Fixtures shared by the whole suite: a throwaway PostgreSQL database, and both backends.

PostgreSQL tests never skip silently: an unreachable server fails them with how to start
it. The only way to skip them is MYTRADER_SKIP_POSTGRES=1.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from psycopg import sql

from mytrader.adapters.store import ArenaStore, mask_url
from mytrader.app.storage import open_store
from mytrader.config import Settings, load_settings

ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
# Read once, before `_clean_environment` runs: these two steer the suite, not the arena.
TEST_PG = os.environ.get("MYTRADER_TEST_PG") or ADMIN_URL
SKIP_POSTGRES = os.environ.get("MYTRADER_SKIP_POSTGRES") == "1"
# Outside services a developer's shell may point at; tests must never reach them.
_FOREIGN_PREFIXES = ("ALPACA_", "OPENROUTER_", "LANGSMITH_", "LANGCHAIN_")
START_HINT = "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start"


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test starts from the defaults: no setting (DATABASE_URL, ARENA_ID, ...) and
    no outside-service key from the developer's shell leaks in."""
    settings_vars = {name.upper() for name in Settings.model_fields}
    for name in list(os.environ):
        if name.upper() in settings_vars or name.upper().startswith(_FOREIGN_PREFIXES):
            monkeypatch.delenv(name)


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, parts.fragment))


def _create_database(admin: str, name: str) -> str | None:
    """Create the database; the reason when the server can't be reached."""
    try:
        with psycopg.connect(admin, autocommit=True, connect_timeout=5) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    except psycopg.OperationalError as exc:
        return str(exc).strip()
    return None


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh database `mytrader_test_<random>` for this session, dropped at the end."""
    if SKIP_POSTGRES:
        pytest.skip("MYTRADER_SKIP_POSTGRES=1: PostgreSQL tests skipped on request")
    admin = TEST_PG
    name = f"mytrader_test_{secrets.token_hex(4)}"
    problem = _create_database(admin, name)
    if problem is not None:
        pytest.fail(
            f"PostgreSQL is not reachable at {mask_url(admin)}: {problem}\n"
            f"*** Start it with:  {START_HINT}\n"
            "*** (or point MYTRADER_TEST_PG at another server; MYTRADER_SKIP_POSTGRES=1"
            " skips these tests)",
            pytrace=False,
        )
    try:
        yield _with_database(admin, name)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            # FORCE: a test that forgot to close its pool must not keep the database alive.
            drop = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)")
            conn.execute(drop.format(sql.Identifier(name)))


def _empty_database(url: str) -> None:
    """Truncate every table (the arena's and the checkpointer's) so tests don't see each
    other's rows; the checkpointer's migration log stays, or its setup() would redo them."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SET lock_timeout = '10s'")  # a leaked open transaction fails, not hangs
        rows = conn.execute(
            "SELECT tablename FROM pg_tables"
            " WHERE schemaname = 'public' AND tablename <> 'checkpoint_migrations'"
        ).fetchall()
        if rows:
            tables = sql.SQL(", ").join(sql.Identifier(r[0]) for r in rows)
            conn.execute(sql.SQL("TRUNCATE {} RESTART IDENTITY CASCADE").format(tables))


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, object]:
    """Settings overrides for one backend: `load_settings(**backend)`.

    SQLite: files under a fresh MYTRADER_HOME. PostgreSQL: the session's database,
    emptied first.
    """
    overrides: dict[str, object] = {"mytrader_home": tmp_path / "home", "database_url": None}
    if request.param == "postgres":
        url = request.getfixturevalue("postgres_url")
        _empty_database(url)
        overrides["database_url"] = url
    return overrides


@pytest.fixture
def settings(backend: dict[str, object]) -> Settings:
    """Settings for the backend, ignoring any developer `.env` file."""
    return load_settings(**backend, _env_file=None)


@pytest.fixture
def store(settings: Settings) -> Iterator[ArenaStore]:
    arena_store = open_store(settings)
    try:
        yield arena_store
    finally:
        arena_store.close()
