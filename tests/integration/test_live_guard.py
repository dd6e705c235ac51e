"""The live guard through the real alpaca-py clients: every spelling of Alpaca's live
host (and any host not named) is refused before a connection, proven by a local HTTP
proxy that every request of the process goes through (HTTPS_PROXY) and that records
each connection it is asked for. With the opt-in, the proxy does see the live host: the
harness would catch a connection, and the client reaches the host that was judged."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from mytrader.app.brokers import open_alpaca
from mytrader.ports.broker import BrokerSetupError
from tests.helpers import make_settings, run_cli

pytestmark = pytest.mark.slow


class RecordingProxy:
    """Accepts connections, records each request line (`CONNECT host:443 ...`) and
    answers 502: nothing goes further than this machine."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.requests: list[str] = []
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                conn.settimeout(2)
                try:
                    line = conn.recv(4096).split(b"\r\n", 1)[0].decode("latin-1")
                    self.requests.append(line)
                    conn.sendall(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
                except OSError:
                    self.requests.append("(connection)")

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def proxy(monkeypatch: pytest.MonkeyPatch) -> Iterator[RecordingProxy]:
    p = RecordingProxy()
    for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"):
        monkeypatch.setenv(name, p.url)
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    yield p
    p.close()


def alpaca_settings(base_url: str, **extra: object):  # type: ignore[no-untyped-def]
    given: dict[str, object] = {"alpaca_base_url": base_url, **extra}
    return make_settings(alpaca_api_key="k", alpaca_api_secret="s", alpaca_timeout_s=0.5, **given)


@pytest.mark.parametrize(
    "url",
    [
        "https://api.alpaca.markets.",
        "https://api.alpaca.markets%2e",
        "https://api.alpaca.markets/v2",
        "https://API.ALPACA.MARKETS",
        "https://api.alpaca.markets:443",
        "https://x@api.alpaca.markets",
    ],
)
def test_live_spellings_are_refused_before_any_connection(proxy: RecordingProxy, url: str) -> None:
    with pytest.raises(BrokerSetupError, match="ALLOW_LIVE_TRADING"):
        open_alpaca(alpaca_settings(url))
    assert proxy.requests == []


@pytest.mark.parametrize(
    ("setting", "url"),
    [
        ("alpaca_base_url", "https://evil.example"),
        ("alpaca_base_url", "http://paper-api.alpaca.markets"),
        ("alpaca_data_url", "https://evil.example"),
    ],
)
def test_unnamed_hosts_are_refused_before_any_connection(
    proxy: RecordingProxy, setting: str, url: str
) -> None:
    settings = alpaca_settings("https://paper-api.alpaca.markets", **{setting: url})
    with pytest.raises(BrokerSetupError, match=setting.upper()):
        open_alpaca(settings)
    assert proxy.requests == []


def test_a_named_host_and_the_opt_in_are_reached_as_judged(proxy: RecordingProxy) -> None:
    live = alpaca_settings("https://API.alpaca.markets.", allow_live_trading=True)
    with pytest.raises(BrokerSetupError, match="unreachable"):  # the proxy answers 502
        open_alpaca(live)
    assert proxy.requests and all(
        r.startswith("CONNECT api.alpaca.markets:443 ") for r in proxy.requests
    ), proxy.requests
    proxy.requests.clear()
    named = alpaca_settings("https://Proxy.Example.", alpaca_allowed_hosts="proxy.example")
    with pytest.raises(BrokerSetupError, match="unreachable"):
        open_alpaca(named)
    assert proxy.requests and proxy.requests[0].startswith("CONNECT proxy.example:443 ")


def test_mytrader_run_with_a_trailing_dot_exits_3_and_connects_nowhere(
    proxy: RecordingProxy, tmp_path: Path
) -> None:
    env = {
        "MYTRADER_HOME": str(tmp_path / "home"),
        "ALPACA_API_KEY": "k",
        "ALPACA_API_SECRET": "s",
        "ALPACA_BASE_URL": "https://api.alpaca.markets.",
        "ALPACA_TIMEOUT_S": "0.5",
        "HTTPS_PROXY": proxy.url,
        "HTTP_PROXY": proxy.url,
    }
    out = run_cli(["run", "--cycles", "1"], env, tmp_path)
    text = " ".join((out.stdout + out.stderr).split())
    assert out.returncode == 3, text
    assert "ALLOW_LIVE_TRADING" in text and "Traceback" not in text
    assert proxy.requests == []
