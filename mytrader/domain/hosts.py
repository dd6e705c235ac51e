"""Which names a request may call this machine by: Host and Origin headers, loopback.

A page on another site that rebinds its DNS name to 127.0.0.1 reaches a loopback server
with its own name in `Host` (and in a WebSocket's `Origin`): a server that answers only
to loopback names (and to names it was told about) cannot be read that way.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit

# host[:port] as a Host header or an origin spells it: a DNS name or an IPv4 address, or
# an IPv6 address in brackets; nothing else (no user info, path, spaces or escapes).
_AUTHORITY = re.compile(r"(?P<host>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+)(?::(?P<port>[0-9]{1,5}))?")


def host_name(authority: str) -> str | None:
    """The host of `host[:port]`, normalised (lower case, no trailing dot, IPv6 without
    brackets); None when it is not a well-formed authority."""
    match = _AUTHORITY.fullmatch(authority)
    if match is None or (match["port"] is not None and int(match["port"]) > 65535):
        return None
    host = match["host"].lower()
    if host.startswith("["):
        try:
            return str(ipaddress.IPv6Address(host[1:-1]))
        except ValueError:
            return None
    host = host[:-1] if host.endswith(".") else host
    if not host or host.startswith(".") or ".." in host:
        return None
    return host


def bare_host(text: str) -> str | None:
    """`host_name` of a name given without a port (a setting's entry); None otherwise."""
    match = _AUTHORITY.fullmatch(text)
    return host_name(text) if match is not None and match["port"] is None else None


def origin_host(origin: str) -> str | None:
    """The host of an `Origin` header (`scheme://host[:port]`), normalised like
    `host_name`; None for `null`, another scheme, or anything with a path or user info."""
    try:
        parts = urlsplit(origin)
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or parts.path not in ("", "/"):
        return None
    if parts.query or parts.fragment or "@" in parts.netloc:
        return None
    return host_name(parts.netloc)


def is_loopback(host: str) -> bool:
    """localhost, 127.0.0.0/8 or ::1 (with or without brackets)."""
    if host.lower().rstrip(".") == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def is_allowed(host: str | None, extra: frozenset[str]) -> bool:
    """A normalised host is a loopback name or one of `extra` (normalised names)."""
    return host is not None and (is_loopback(host) or host in extra)
