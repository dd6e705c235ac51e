"""A database URL's secrets: the URL shown with its password masked, and a driver's
error text with the URL masked and the password removed."""

from __future__ import annotations

from urllib.parse import unquote, urlsplit, urlunsplit

from mytrader.domain.text import scrub_secrets


def mask_url(url: str) -> str:
    """The URL with its password (in the user info or `?password=`) replaced by `***`."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparseable database URL>"
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, host = netloc.rsplit("@", 1)
        if ":" in userinfo:
            userinfo = userinfo.split(":", 1)[0] + ":***"
        netloc = f"{userinfo}@{host}"
    params = [
        "password=***" if p.lower().startswith("password=") else p
        for p in parts.query.split("&")
        if p
    ]
    return urlunsplit((parts.scheme, netloc, parts.path, "&".join(params), parts.fragment))


def url_passwords(url: str) -> set[str]:
    """The passwords a database URL holds (user info, `?password=`), also percent-decoded."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return set()
    found = {parts.password or ""}
    found |= {
        p.split("=", 1)[1] for p in parts.query.split("&") if p.lower().startswith("password=")
    }
    found |= {unquote(p) for p in found}
    return {p for p in found if p}


def scrub(text: str, url: str) -> str:
    """`text` (e.g. a driver's error) with the URL masked and its password removed."""
    return scrub_secrets(text.replace(url, mask_url(url)), url_passwords(url))
