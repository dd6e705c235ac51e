"""What every route of the dashboard depends on: the served reader, config and watcher,
and the arena a request names (FastAPI dependencies)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends
from starlette.requests import HTTPConnection

from mytrader.adapters.store.reads import ArenaReader
from mytrader.web import auth
from mytrader.web.live import Watcher
from mytrader.web.params import Arena


@dataclass
class DashboardConfig:
    default_arena: str
    token: str | None = None  # required on every request when set
    listen_url: str | None = None  # PostgreSQL: LISTEN for cycles here; None: poll
    poll_s: float = 0.2  # SQLite: watermark poll interval
    reconcile_s: float = 5.0  # PostgreSQL: poll after this long without a NOTIFY
    # Names answered besides loopback ones (DASHBOARD_ALLOWED_HOSTS); None: any name,
    # for a dashboard served beyond loopback (the token guards it there).
    allowed_hosts: frozenset[str] | None = frozenset()

    @property
    def access(self) -> auth.Access:
        return auth.Access(token=self.token, hosts=self.allowed_hosts)


@dataclass(frozen=True)
class Served:
    """The app's one reader, its config, and the live stream's watcher."""

    reader: ArenaReader
    config: DashboardConfig
    watcher: Watcher


def served(connection: HTTPConnection) -> Served:
    """The app's `Served` (an HTTP request or a WebSocket alike)."""
    found: Served = connection.app.state.served
    return found


ServedBy = Annotated[Served, Depends(served)]


def arena_name(by: ServedBy, arena: Arena = None) -> str:
    """The arena a request names, or the served ARENA_ID."""
    return arena or by.config.default_arena


ArenaName = Annotated[str, Depends(arena_name)]
