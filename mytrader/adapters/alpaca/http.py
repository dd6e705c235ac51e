"""Every request to Alpaca goes through here: the endpoint guard, the clients' timeouts,
the request budget, the retries of reads and the mapping of Alpaca's errors.

Three things alpaca-py does not do, done here:
- a timeout on every request (alpaca-py sets none: a dead connection would hang a cycle);
- no blind retry of POST /v2/orders (alpaca-py resends after a 504, when the first attempt
  may have created the order): every client runs with its retry off and reads are retried
  here (a 429 waits for its X-RateLimit-Reset); a submit is settled by the trading part;
- a request budget: Alpaca allows 200 requests a minute (trading and data apart), so
  every request takes a slot of a sliding one-minute window first.
"""

from __future__ import annotations

import functools
import json
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any, TypeVar

import requests
from alpaca.common.exceptions import APIError
from alpaca.common.rest import RESTClient
from alpaca.data.historical import StockHistoricalDataClient
from alpaca.data.historical.news import NewsClient
from alpaca.data.historical.screener import ScreenerClient
from alpaca.trading.client import TradingClient

from mytrader.adapters.alpaca.config import DATA_URL, AlpacaConfig
from mytrader.domain.endpoints import (
    Endpoint,
    EndpointPolicy,
    EndpointRefused,
    HostKind,
    check_endpoint,
    parse_endpoint,
)
from mytrader.ports.broker import BrokerError, BrokerSetupError

log = logging.getLogger(__name__)

_MAX_RESET_WAIT = 65.0  # a 429's reset is at most a minute away
READ_ATTEMPTS = 4

T = TypeVar("T")
C = TypeVar("C", bound=RESTClient)

# What a request that got no answer raises (the submit path looks its order up then).
NO_ANSWER = (requests.Timeout, requests.ConnectionError)


class BrokerUnavailable(BrokerError):
    """A request failed after its retries (timeout, 5xx, connection)."""


# --- live guard ---------------------------------------------------------------------------


def is_live_url(url: str) -> bool:
    """Alpaca's live trading host (api.alpaca.markets) in any spelling DNS and TLS accept
    (case, trailing dot, percent-encoding, port, path), as opposed to paper or a local one."""
    try:
        return parse_endpoint(url).kind is HostKind.LIVE
    except ValueError:
        return False


def check_live_guard(
    base_url: str, data_url: str = DATA_URL, policy: EndpointPolicy | None = None
) -> tuple[Endpoint, Endpoint]:
    """The trading and data endpoints the clients may connect to, checked before any
    connection: the live host only with ALLOW_LIVE_TRADING, other hosts only when named
    in ALPACA_ALLOWED_HOSTS, plain http only on loopback."""
    policy = policy or EndpointPolicy()
    try:
        trading = check_endpoint(base_url, "ALPACA_BASE_URL", HostKind.PAPER, policy)
        data = check_endpoint(data_url, "ALPACA_DATA_URL", HostKind.DATA, policy)
    except EndpointRefused as exc:
        raise BrokerSetupError(str(exc)) from None
    return trading, data


# --- request budget -----------------------------------------------------------------------


class MinuteWindow:
    """At most `per_minute` requests in any 60 s (Alpaca's rule), shared by threads."""

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_minute = per_minute
        self._clock = clock
        self._sent: deque[float] = deque()
        self._lock = threading.Lock()
        self.waited = 0.0

    def acquire(self) -> None:
        while True:
            with self._lock:
                now = self._clock()
                while self._sent and now - self._sent[0] >= 60.0:
                    self._sent.popleft()
                if len(self._sent) < self.per_minute:
                    self._sent.append(now)
                    return
                wait = 60.0 - (now - self._sent[0])
            self.waited += wait
            time.sleep(wait)


# --- Alpaca's errors ----------------------------------------------------------------------


def _error_body(exc: APIError) -> dict[str, Any]:
    try:
        body = json.loads(str(exc))
    except ValueError:
        return {"message": str(exc)[:200]}
    return body if isinstance(body, dict) else {"message": str(body)[:200]}


def api_message(exc: APIError) -> str:
    return str(_error_body(exc).get("message") or str(exc)[:200])


def reset_wait(exc: APIError) -> float:
    """Seconds until a 429's X-RateLimit-Reset (unix seconds); 1 s when absent."""
    response = exc.response
    reset = response.headers.get("X-RateLimit-Reset") if response is not None else None
    try:
        return min(max(float(reset) - time.time(), 0.05), _MAX_RESET_WAIT) if reset else 1.0
    except ValueError:
        return 1.0


def is_duplicate(exc: APIError) -> bool:
    return exc.status_code == 422 and "unique" in api_message(exc).lower()


def keys_refused(exc: APIError) -> BrokerSetupError | None:
    """The setup error of a 401 (bad keys: nothing to retry), else None."""
    if exc.status_code != 401:
        return None
    return BrokerSetupError(
        f"Alpaca refused the keys (401: {api_message(exc)}): check "
        "ALPACA_API_KEY and ALPACA_API_SECRET (paper keys for the paper URL)"
    )


def backoff(attempt: int) -> None:
    time.sleep(0.2 * 2**attempt)


def harden(client: C, timeout: float) -> C:
    """A timeout on every request, and alpaca-py's own retry off (it would resend a POST)."""
    session = client._session
    session.request = functools.partial(session.request, timeout=timeout)  # type: ignore[method-assign]
    client._retry = 0
    client._retry_wait = 0
    return client


# --- the connection -----------------------------------------------------------------------


class AlpacaHttp:
    """alpaca-py's clients for one account, behind the guard, and the reads through them
    (budgeted, retried). Safe from threads: the raw-data client is one per thread."""

    def __init__(self, config: AlpacaConfig) -> None:
        policy = EndpointPolicy(allow_live=config.allow_live, allowed_hosts=config.allowed_hosts)
        trading, data = check_live_guard(config.base_url, config.data_url, policy)
        # The clients get the URLs rebuilt from what was judged: the host checked is the
        # host reached, whatever the spelling.
        self.base_url, self.data_url = trading.url, data.url
        self.live = trading.kind is HostKind.LIVE
        self.timeout = config.timeout
        self._keys = (config.key.get_secret_value(), config.secret.get_secret_value())
        key, secret = self._keys
        self.trading = harden(
            TradingClient(key, secret, paper=not self.live, url_override=self.base_url),
            self.timeout,
        )
        self.data = harden(
            StockHistoricalDataClient(key, secret, url_override=self.data_url), self.timeout
        )
        self.screener = harden(
            ScreenerClient(key, secret, url_override=self.data_url), self.timeout
        )
        self.news = harden(NewsClient(key, secret, url_override=self.data_url), self.timeout)
        self.trade_window = MinuteWindow(config.requests_per_min)
        self.data_window = MinuteWindow(config.requests_per_min)
        self._raw = threading.local()  # one raw-data client per scan thread
        self.requests = 0  # sent, for the README's cost figures and the benchmark

    def raw_data(self) -> StockHistoricalDataClient:
        """This thread's data client that answers with the wire's JSON."""
        client = getattr(self._raw, "client", None)
        if client is None:
            key, secret = self._keys
            client = harden(
                StockHistoricalDataClient(key, secret, raw_data=True, url_override=self.data_url),
                self.timeout,
            )
            self._raw.client = client
        return client

    def take_trade_slot(self) -> None:
        """A slot of the trading budget, for a request sent without the read retries."""
        self.trade_window.acquire()
        self.requests += 1

    def trade(self, fn: Callable[[], T], what: str) -> T:
        """A read of the trading API (account, orders, clock, assets)."""
        return self._read(self.trade_window, self.base_url, fn, what)

    def data_read(self, fn: Callable[[], T], what: str) -> T:
        """A read of the data API (bars, snapshots, screener, news)."""
        return self._read(self.data_window, self.data_url, fn, what)

    def _read(self, window: MinuteWindow, host: str, fn: Callable[[], T], what: str) -> T:
        """Retried on 429 (after its reset), 5xx, timeouts and lost connections."""
        for attempt in range(READ_ATTEMPTS):
            window.acquire()
            self.requests += 1
            try:
                return fn()
            except APIError as exc:
                status = exc.status_code or 0
                if (refused := keys_refused(exc)) is not None:
                    raise refused from None
                if status == 429:
                    wait = reset_wait(exc)
                    log.warning("alpaca %s: rate limited, waiting %.1fs for the reset", what, wait)
                    time.sleep(wait)
                    continue
                if status >= 500 and attempt + 1 < READ_ATTEMPTS:
                    backoff(attempt)
                    continue
                raise BrokerError(f"alpaca {what}: {status} {api_message(exc)}") from None
            except NO_ANSWER as exc:
                if attempt + 1 < READ_ATTEMPTS:
                    backoff(attempt)
                    continue
                raise BrokerUnavailable(
                    f"alpaca {what}: no answer from {host} ({type(exc).__name__})"
                ) from None
        raise BrokerUnavailable(f"alpaca {what}: still rate limited after {READ_ATTEMPTS} tries")
