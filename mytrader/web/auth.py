"""DASHBOARD_TOKEN: who may read the dashboard when it listens beyond this machine.

The token travels as `Authorization: Bearer <token>` or in an HttpOnly cookie, set by
opening any page once with `?token=<token>` (the answer redirects to the same address
without it, so the token does not stay in the address bar or the history). Tokens are
compared in constant time.
"""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Mapping

COOKIE = "mytrader_token"
# Shortest token `serve` accepts: a guessable token is no protection.
MIN_TOKEN_LENGTH = 16


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def presented(headers: Mapping[str, str], cookies: Mapping[str, str]) -> str | None:
    """The token a request carries: its bearer header, else its cookie."""
    auth = headers.get("authorization", "")
    scheme, _, value = auth.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return cookies.get(COOKIE) or None


def matches(given: str | None, token: str) -> bool:
    return given is not None and hmac.compare_digest(given.encode(), token.encode())


def same_origin(headers: Mapping[str, str]) -> bool:
    """A browser's WebSocket from another site carries its Origin: refuse it (the page
    itself is same-origin; non-browser clients send no Origin)."""
    origin = headers.get("origin")
    if not origin:
        return True
    host = headers.get("host", "")
    return origin.split("://", 1)[-1].rstrip("/") == host
