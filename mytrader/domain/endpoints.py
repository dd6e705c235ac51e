"""Where a configured broker URL really points, and whether the arena may use it.

A URL is parsed (urllib), its host normalised the way a resolver and TLS see it (case,
trailing dots, percent-encoding, IDNA, brackets of an IPv6 address; the path does not
matter) and classified: Alpaca's live host, its paper host, its market-data host, a
loopback address, or another host. The broker then connects to the URL rebuilt from
those parts (`Endpoint.url`), so the host that was judged is the host that is reached.

The rules (`check_endpoint`): the live host needs the live opt-in; a host that is neither
the expected Alpaca host nor loopback must be named in the allow-list; only loopback may
use plain http; no user name or password in the URL. Pure: no I/O, no settings.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import unquote, urlsplit, urlunsplit

from mytrader.domain.hosts import is_loopback

LIVE_HOST = "api.alpaca.markets"  # real money
PAPER_HOST = "paper-api.alpaca.markets"
DATA_HOST = "data.alpaca.markets"  # market data, the same for paper and live keys

_LABEL = re.compile(r"[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?")


class HostKind(StrEnum):
    LIVE = "Alpaca's live trading host"
    PAPER = "Alpaca's paper trading host"
    DATA = "Alpaca's market-data host"
    LOOPBACK = "a loopback address"
    OTHER = "another host"


class EndpointRefused(ValueError):
    """The URL must not be used; the message names the setting and the way on."""


@dataclass(frozen=True, slots=True)
class Endpoint:
    """A parsed URL with its host normalised (lower-case ASCII, no trailing dot)."""

    scheme: str
    host: str
    port: int | None
    path: str
    has_userinfo: bool
    has_query: bool

    @property
    def kind(self) -> HostKind:
        return classify_host(self.host)

    @property
    def url(self) -> str:
        """The URL rebuilt from the judged parts: what the clients connect to."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        port = "" if self.port is None else f":{self.port}"
        return f"{self.scheme}://{host}{port}{self.path.rstrip('/')}"


@dataclass(frozen=True, slots=True)
class EndpointPolicy:
    """What the operator allowed: the live host, and hosts beyond Alpaca's and loopback."""

    allow_live: bool = False
    allowed_hosts: frozenset[str] = frozenset()
    live_setting: str = "ALLOW_LIVE_TRADING"
    hosts_setting: str = "ALPACA_ALLOWED_HOSTS"


def normalise_host(raw: str) -> str:
    """The host as DNS and TLS see it; ValueError when it is not a host name or address."""
    host = unquote(raw, errors="strict").strip("[]")
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        pass
    if not host.isascii():
        try:  # IDNA (with nameprep: case and width folded), as clients encode it
            host = host.encode("idna").decode("ascii")
        except UnicodeError:
            raise ValueError(f"{raw!r} is not a valid international host name") from None
    host = host.lower().rstrip(".")
    labels = host.split(".")
    if not host or len(host) > 253 or not all(_LABEL.fullmatch(lab) for lab in labels):
        raise ValueError(f"{raw!r} is not a host name")
    return host


def classify_host(host: str) -> HostKind:
    """The kind of an already normalised host."""
    if host == LIVE_HOST:
        return HostKind.LIVE
    if host == PAPER_HOST:
        return HostKind.PAPER
    if host == DATA_HOST:
        return HostKind.DATA
    return HostKind.LOOPBACK if is_loopback(host) else HostKind.OTHER


def parse_endpoint(url: str) -> Endpoint:
    """Parse a URL; ValueError (saying why) when it has no usable scheme, host or port."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise ValueError("not an http(s) URL")
    raw_host = parts.hostname  # after the last '@', brackets off (as the HTTP clients take it)
    if not raw_host:
        raise ValueError("no host")
    try:
        port = parts.port
    except ValueError:
        raise ValueError("a bad port") from None
    return Endpoint(
        scheme=scheme,
        host=normalise_host(raw_host),
        port=port,
        path=parts.path,
        has_userinfo="@" in parts.netloc,
        has_query=bool(parts.query or parts.fragment),
    )


def shown_url(url: str) -> str:
    """The URL as a message may show it: a user name or password in it is masked."""
    parts = urlsplit(url.strip())
    if "@" not in parts.netloc:
        return repr(url)
    return repr(urlunsplit(parts._replace(netloc="***@" + parts.netloc.rpartition("@")[2])))


def check_endpoint(url: str, setting: str, expected: HostKind, policy: EndpointPolicy) -> Endpoint:
    """The endpoint of `url` when the policy lets the arena use it for `expected` (the
    Alpaca host the setting is for); else EndpointRefused naming `setting`."""
    try:
        endpoint = parse_endpoint(url)
    except ValueError as exc:
        raise EndpointRefused(f"{setting}: {shown_url(url)} is not usable: {exc}") from None
    kind = endpoint.kind
    if kind is HostKind.LIVE and not policy.allow_live:
        raise EndpointRefused(
            f"{setting} {shown_url(url)} is {kind.value} ({LIVE_HOST}): real money. Set "
            f"{policy.live_setting}=true to trade it, or use https://{PAPER_HOST} (paper)."
        )
    if endpoint.has_userinfo:
        raise EndpointRefused(f"{setting}: no user name or password in the URL ({shown_url(url)})")
    if endpoint.has_query:
        raise EndpointRefused(f"{setting}: no query or fragment in the URL ({shown_url(url)})")
    if endpoint.scheme != "https" and kind is not HostKind.LOOPBACK:
        raise EndpointRefused(f"{setting}: {endpoint.host} needs https (http is for loopback)")
    usable = {expected, HostKind.LOOPBACK}
    if policy.allow_live and expected is HostKind.PAPER:
        usable.add(HostKind.LIVE)
    if kind not in usable and endpoint.host not in policy.allowed_hosts:
        raise EndpointRefused(
            f"{setting}: {endpoint.host} is {kind.value}, not {expected.value} nor loopback; "
            f"name it in {policy.hosts_setting} (comma-separated hosts) to use it"
        )
    return endpoint
