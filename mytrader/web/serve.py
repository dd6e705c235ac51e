"""`mytrader serve`: the dashboard on uvicorn, for the arena of ARENA_ID.

Loopback by default, and then it answers only to loopback names and to the names of
DASHBOARD_ALLOWED_HOSTS (DNS rebinding). Any other host is refused unless DASHBOARD_TOKEN
is set (and long enough); with a token set, every request must carry it, on any host.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from mytrader.adapters.store.reads import ArenaReader
from mytrader.app.storage import open_reader
from mytrader.config import Settings
from mytrader.domain.hosts import is_loopback
from mytrader.web.auth import MIN_TOKEN_LENGTH

if TYPE_CHECKING:
    from fastapi import FastAPI


class ServeRefused(ValueError):
    """The server would be exposed without protection; the message says what to set."""


def check_exposure(host: str, token: str | None) -> None:
    if token is not None and len(token) < MIN_TOKEN_LENGTH:
        raise ServeRefused(
            f"DASHBOARD_TOKEN: must be at least {MIN_TOKEN_LENGTH} characters"
            " (e.g. `python -c 'import secrets; print(secrets.token_urlsafe(24))'`)"
        )
    if not is_loopback(host) and token is None:
        raise ServeRefused(
            f"--host {host} makes the dashboard reachable from other machines:"
            " set DASHBOARD_TOKEN first (then every request must carry it)"
        )


def allowed_hosts(host: str, named: tuple[str, ...]) -> frozenset[str] | None:
    """The names a dashboard bound to `host` answers to besides loopback ones; None (any
    name) beyond loopback when DASHBOARD_ALLOWED_HOSTS names none: the token guards it."""
    if not is_loopback(host) and not named:
        return None
    return frozenset(named)


def build(
    settings: Settings, arena: str | None = None, host: str = "127.0.0.1"
) -> tuple[FastAPI, ArenaReader]:
    """The app for these settings, bound to `host`, and the reader it reads through
    (close it after)."""
    from mytrader.web.app import DashboardConfig, create_app

    token = settings.dashboard_token.get_secret_value() if settings.dashboard_token else None
    reader = open_reader(settings)
    config = DashboardConfig(
        default_arena=arena or settings.arena_id,
        token=token or None,
        listen_url=settings.postgres_url,
        allowed_hosts=allowed_hosts(host, settings.dashboard_hosts),
    )
    return create_app(reader, config), reader


def serve(
    settings: Settings,
    host: str,
    port: int,
    arena: str | None = None,
    announce: Callable[[str], None] = lambda _: None,
) -> None:
    """Run the dashboard until interrupted. Raises ServeRefused before binding anything."""
    import uvicorn

    token = settings.dashboard_token.get_secret_value() if settings.dashboard_token else None
    check_exposure(host, token or None)
    app, reader = build(settings, arena, host)
    announce(f"MyTrader dashboard on http://{host}:{port}/ (arena {arena or settings.arena_id})")
    try:
        # access_log off: a `?token=` address must not end up in a log.
        uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False)
    finally:
        reader.close()
