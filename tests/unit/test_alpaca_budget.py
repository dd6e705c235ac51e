"""The Alpaca adapter's pure parts: the request budget and the live-URL rule."""

from __future__ import annotations

import pytest

from mytrader.adapters.alpaca import http as alpaca
from mytrader.adapters.alpaca.http import MinuteWindow, is_live_url


def test_no_more_than_the_budget_in_any_minute(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [1000.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    monkeypatch.setattr(alpaca.time, "sleep", sleep)
    window = MinuteWindow(3, clock=lambda: now[0])
    stamps = []
    for _ in range(7):
        window.acquire()
        stamps.append(now[0])
        now[0] += 1.0
    # Any 60 s window holds at most 3 requests: the 4th waits for the 1st to age out.
    for i in range(len(stamps) - 3):
        assert stamps[i + 3] - stamps[i] >= 60.0
    assert stamps[3] == pytest.approx(1060.0) and slept


@pytest.mark.parametrize(
    ("url", "live"),
    [
        ("https://api.alpaca.markets", True),
        ("https://API.alpaca.markets/", True),
        ("https://api.alpaca.markets.", True),  # a trailing dot is the same host
        ("https://api.alpaca.markets%2e", True),
        ("https://api.alpaca.markets:443/v2", True),
        ("https://paper-api.alpaca.markets", False),
        ("http://127.0.0.1:8123", False),
    ],
)
def test_live_urls(url: str, live: bool) -> None:
    assert is_live_url(url) is live
