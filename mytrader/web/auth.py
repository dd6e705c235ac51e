"""Who may read the dashboard: the names it answers to, and DASHBOARD_TOKEN.

Names: served on loopback, the dashboard answers only a `Host` (and an `Origin`, when a
browser sends one) that is a loopback name (localhost, 127.0.0.0/8, [::1]) or a name of
DASHBOARD_ALLOWED_HOSTS: a page on another site that rebinds its DNS name to 127.0.0.1
calls it by that other name and is refused. A WebSocket's Origin must moreover be the
page's own address.

The token travels as `Authorization: Bearer <token>` or in an HttpOnly cookie, set by
opening any page once with `?token=<token>` (the answer redirects to the same page of this
site without it, so the token does not stay in the address bar or the history). Tokens
are compared in constant time.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass

from fastapi.responses import JSONResponse

from mytrader.domain.hosts import host_name, is_allowed, origin_host

COOKIE = "mytrader_token"
# Shortest token `serve` accepts: a guessable token is no protection.
MIN_TOKEN_LENGTH = 16
# A path a redirect may name: segments of plain characters, each after one '/'. Anything
# else (`//host`, `/\host`, a tab, `%2f` decoded to '/', '..') falls back to `/`.
_LOCAL_PATH = re.compile(r"/(?:[A-Za-z0-9_~.-]+/?)*")


@dataclass(frozen=True)
class Access:
    token: str | None = None  # required on every request when set
    # The names it answers to besides loopback ones; None: any name (served beyond
    # loopback, where the token guards it).
    hosts: frozenset[str] | None = frozenset()


def presented(headers: Mapping[str, str], cookies: Mapping[str, str]) -> str | None:
    """The token a request carries: its bearer header, else its cookie."""
    auth = headers.get("authorization", "")
    scheme, _, value = auth.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return cookies.get(COOKIE) or None


def matches(given: str | None, token: str) -> bool:
    return given is not None and hmac.compare_digest(given.encode(), token.encode())


def local_target(path: str) -> str:
    """Where the `?token=` login may send the browser: `path` (already percent-decoded)
    when it is a plain path of this site, else `/`."""
    if not _LOCAL_PATH.fullmatch(path) or any(s in (".", "..") for s in path.split("/")):
        return "/"
    return path


def refusal(
    access: Access, headers: Mapping[str, str], cookies: Mapping[str, str], websocket: bool
) -> JSONResponse | None:
    """The answer to a request that may not be served, or None when it may."""
    refused = wrong_name(access.hosts, headers)
    if refused is None and access.token is not None:
        if not matches(presented(headers, cookies), access.token):
            refused = unauthorized()
    if refused is None and websocket and not same_origin(headers):
        refused = _refused(403, "origin")
    return refused


def wrong_name(hosts: frozenset[str] | None, headers: Mapping[str, str]) -> JSONResponse | None:
    """A refusal when the request calls this server by a name it does not answer to."""
    if hosts is None:
        return None
    if not is_allowed(host_name(headers.get("host", "")), hosts):
        return _refused(
            400,
            "this dashboard answers to loopback names only: a name it should answer to"
            " goes into DASHBOARD_ALLOWED_HOSTS",
        )
    origin = headers.get("origin")
    if origin is not None and not is_allowed(origin_host(origin), hosts):
        return _refused(403, "a page of another site may not read this dashboard (Origin)")
    return None


def unauthorized() -> JSONResponse:
    return JSONResponse(
        {"detail": "a valid DASHBOARD_TOKEN is required"},
        status_code=401,
        headers={"WWW-Authenticate": "Bearer"},
    )


def same_origin(headers: Mapping[str, str]) -> bool:
    """A browser's WebSocket from another site carries its Origin: refuse it (the page
    itself is same-origin; non-browser clients send no Origin)."""
    origin = headers.get("origin")
    if not origin:
        return True
    host = headers.get("host", "")
    return origin.split("://", 1)[-1].rstrip("/") == host


def _refused(status: int, detail: str) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=status)
