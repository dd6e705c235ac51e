"""The live guard's URL rule (domain/endpoints.py): every spelling of Alpaca's live host
is the live host; only the paper host (data host), loopback and named hosts are used."""

from __future__ import annotations

import pytest

from mytrader.domain.endpoints import (
    EndpointPolicy,
    EndpointRefused,
    HostKind,
    check_endpoint,
    normalise_host,
    parse_endpoint,
)

# Each is Alpaca's live (real-money) host to DNS and TLS.
LIVE_SPELLINGS = [
    "https://api.alpaca.markets",
    "https://api.alpaca.markets.",  # trailing dot: the same host
    "https://api.alpaca.markets..",
    "https://api.alpaca.markets%2e",  # percent-encoded dot
    "https://api%2Ealpaca%2Emarkets",
    "https://api.alpaca.markets/v2",  # a path changes nothing
    "https://API.ALPACA.MARKETS",
    "https://Api.Alpaca.Markets./",
    "https://api.alpaca.markets:443",
    "https://x@api.alpaca.markets",  # userinfo: the host is after the '@'
    "https://paper-api.alpaca.markets@api.alpaca.markets",
    "https://ａｐｉ.alpaca.markets",  # full-width letters: IDNA folds them
    "https://api.alpaca.markets\u3002",  # ideographic full stop: a dot to IDNA
    " https://api.alpaca.markets\t",
]
PAPER = EndpointPolicy()


def trading(url: str, policy: EndpointPolicy = PAPER):  # type: ignore[no-untyped-def]
    return check_endpoint(url, "ALPACA_BASE_URL", HostKind.PAPER, policy)


@pytest.mark.parametrize("url", LIVE_SPELLINGS)
def test_every_spelling_of_the_live_host_needs_the_opt_in(url: str) -> None:
    with pytest.raises(EndpointRefused, match="ALPACA_BASE_URL .*LIVE|ALLOW_LIVE_TRADING"):
        trading(url)
    assert parse_endpoint(url).kind is HostKind.LIVE


@pytest.mark.parametrize("url", ["https://api.alpaca.markets.", "https://api.alpaca.markets:443"])
def test_with_the_opt_in_the_client_gets_the_judged_host(url: str) -> None:
    endpoint = trading(url, EndpointPolicy(allow_live=True))
    assert endpoint.kind is HostKind.LIVE
    assert endpoint.url in ("https://api.alpaca.markets", "https://api.alpaca.markets:443")


@pytest.mark.parametrize(
    ("url", "rebuilt"),
    [
        ("https://paper-api.alpaca.markets", "https://paper-api.alpaca.markets"),
        ("https://PAPER-API.alpaca.markets./", "https://paper-api.alpaca.markets"),
        ("http://127.0.0.1:8123", "http://127.0.0.1:8123"),
        ("http://127.9.9.9:1/", "http://127.9.9.9:1"),
        ("http://[::1]:8080/prefix/", "http://[::1]:8080/prefix"),
        ("http://LOCALHOST.:9", "http://localhost:9"),
    ],
)
def test_paper_and_loopback_are_used_as_judged(url: str, rebuilt: str) -> None:
    assert trading(url).url == rebuilt


@pytest.mark.parametrize(
    ("url", "said"),
    [
        ("https://evil.example", "ALPACA_ALLOWED_HOSTS"),
        ("https://broker-api.alpaca.markets", "ALPACA_ALLOWED_HOSTS"),
        ("https://data.alpaca.markets", "ALPACA_ALLOWED_HOSTS"),  # not a trading host
        ("https://2130706433", "ALPACA_ALLOWED_HOSTS"),  # 127.0.0.1 as one number: refused
        ("http://paper-api.alpaca.markets", "needs https"),
        ("ftp://paper-api.alpaca.markets", "not an http"),
        ("https://user:pw@paper-api.alpaca.markets", "no user name or password"),
        ("https://paper-api.alpaca.markets/?x=1", "no query"),
        ("https://paper-api.alpaca.markets:99999", "bad port"),
        ("https://", "no host"),
        ("https://pa per.example", "not a host name"),
        ("https://api.alpaca.markets%252e", "not a host name"),  # decoded once: '%2e' left
    ],
)
def test_other_hosts_and_schemes_are_refused_naming_the_setting(url: str, said: str) -> None:
    with pytest.raises(EndpointRefused) as err:
        trading(url)
    assert "ALPACA_BASE_URL" in str(err.value) and said in str(err.value), err.value


def test_a_refusal_never_shows_a_password() -> None:
    with pytest.raises(EndpointRefused) as err:
        trading("https://me:hunter2@api.alpaca.markets")
    assert "hunter2" not in str(err.value) and "***@" in str(err.value)


def test_a_named_host_is_used_but_never_makes_the_live_host_free() -> None:
    policy = EndpointPolicy(allowed_hosts=frozenset({"proxy.example", "api.alpaca.markets"}))
    assert trading("https://PROXY.example./v2", policy).url == "https://proxy.example/v2"
    with pytest.raises(EndpointRefused, match="ALLOW_LIVE_TRADING"):
        trading("https://api.alpaca.markets", policy)
    with pytest.raises(EndpointRefused, match="needs https"):
        trading("http://proxy.example", policy)


def test_the_data_url_is_alpacas_data_host_or_loopback() -> None:
    def data(url: str, policy: EndpointPolicy = PAPER) -> str:
        return check_endpoint(url, "ALPACA_DATA_URL", HostKind.DATA, policy).url

    assert data("https://data.alpaca.markets.") == "https://data.alpaca.markets"
    assert data("http://127.0.0.1:5") == "http://127.0.0.1:5"
    for url in ("https://evil.example", "https://paper-api.alpaca.markets"):
        with pytest.raises(EndpointRefused, match="ALPACA_DATA_URL"):
            data(url)
    with pytest.raises(EndpointRefused, match="ALLOW_LIVE_TRADING"):
        data("https://api.alpaca.markets.")


@pytest.mark.parametrize(
    ("raw", "host"),
    [
        ("Example.COM.", "example.com"),
        ("b%C3%BCcher.example", "xn--bcher-kva.example"),
        ("0:0:0:0:0:0:0:1", "::1"),
    ],
)
def test_hosts_are_normalised(raw: str, host: str) -> None:
    assert normalise_host(raw) == host
