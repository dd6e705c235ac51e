"""The page in a real headless Chromium (Debian's, driven by Debian's chromedriver).

The arena is run by `mytrader run` in another process while the page is open: the new
cycle's decisions and equity point must appear without a reload.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from mytrader.adapters.store.db import ArenaStore
from mytrader.config import PERSONAS, Settings
from mytrader.domain.models import AgentDecision
from mytrader.web.serve import build
from tests.dashboard_support import (
    chromium,
    cycle_record,
    free_port,
    live_server,
    seed,
    serve_process,
)
from tests.helpers import clean_env, run_cli

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
# MYTRADER_DOCS_SCREENSHOT=1 also refreshes the README's screenshot from this test.
DOCS_SHOT = os.environ.get("MYTRADER_DOCS_SCREENSHOT") == "1"


def js(driver: Any, script: str) -> Any:
    return driver.execute_script(script)


def wait_for(driver: Any, script: str, expected: Any, timeout: float = 60) -> None:
    WebDriverWait(driver, timeout, poll_frequency=0.1).until(
        lambda d: js(d, script) == expected,
        message=f"{script} never became {expected!r}",
    )


@pytest.fixture
def served_arena(tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    """An arena run for a few cycles by `mytrader run`, shown by `mytrader serve`."""
    env = {"MYTRADER_HOME": str(tmp_path / "home")}
    first = run_cli(["run", "--cycles", "12", "--quiet"], env, cwd=tmp_path)
    assert first.returncode == 0, first.stdout + first.stderr
    with serve_process({**clean_env(), **env}, cwd=tmp_path) as base:
        yield base, env


def test_page_shows_a_cycle_run_in_another_process_without_reload(
    served_arena: tuple[str, dict[str, str]], tmp_path: Path
) -> None:
    base, env = served_arena
    with chromium() as driver:
        driver.get(base + "/")
        wait_for(driver, "return document.body.dataset.loaded", "true")
        wait_for(driver, "return document.getElementById('status').textContent", "live")
        assert js(driver, "return document.body.dataset.lastCycle") == "12"
        assert js(driver, "return document.getElementById('chart').dataset.points") == "12"
        js(driver, "window.__sameDocument = 'yes'")  # a reload would drop it

        run = run_cli(["run", "--cycles", "1", "--quiet"], env, cwd=tmp_path)
        assert run.returncode == 0, run.stdout + run.stderr
        with ArenaStore.sqlite(Path(env["MYTRADER_HOME"]) / "arena.sqlite") as store:
            rows = store.agent_logs("arena", kind="DECISION", since_cycle=13)
        said = {
            r.agent: AgentDecision.model_validate_json(r.content).decision.reasoning
            for r in rows
            if r.agent in PERSONAS
        }
        assert set(said) == set(PERSONAS)

        wait_for(driver, "return document.body.dataset.lastCycle", "13")
        wait_for(driver, "return document.getElementById('chart').dataset.points", "13")
        feed = driver.find_element(By.CSS_SELECTOR, "#feed li[data-cycle='13']").text
        for agent, text in said.items():
            assert text in feed
            card = driver.find_element(By.CSS_SELECTOR, f"#agents [data-agent='{agent}']").text
            assert text in card and "cycle 13" in card
        # Every account's line has the new point.
        counts = js(
            driver,
            "return [...document.querySelectorAll('#chart polyline')]"
            ".map(p => [p.dataset.series, p.getAttribute('points').split(' ').length])",
        )
        assert {name: n for name, n in counts if "scaled" not in name} == {
            "collaborative": 13,
            "deepseek": 13,
            "grok": 13,
            "openai": 13,
        }
        assert js(driver, "return window.__sameDocument") == "yes"
        assert "cycle 13" in driver.find_element(By.ID, "clock").text

        shot = tmp_path / "dashboard.png"
        assert driver.save_screenshot(str(shot)) and shot.stat().st_size > 10_000
        if DOCS_SHOT:
            (ROOT / "docs").mkdir(exist_ok=True)
            shutil.copyfile(shot, ROOT / "docs" / "dashboard.png")


def test_a_script_answer_is_shown_as_text_and_runs_nothing(
    settings: Settings, store: ArenaStore
) -> None:
    evil = '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2">'
    app, reader = build(settings)
    try:
        store.record_cycle(cycle_record("arena", 1, reasoning={"grok": evil}))
        with live_server(app) as base, chromium() as driver:
            driver.get(base + "/")
            wait_for(driver, "return document.body.dataset.loaded", "true")
            wait_for(driver, "return document.getElementById('status').textContent", "live")
            card = "#agents [data-agent='grok'] .reasoning"
            assert driver.find_element(By.CSS_SELECTOR, card).text == evil
            # The same answer arriving live, through the WebSocket, into the feed.
            store.record_cycle(cycle_record("arena", 2, reasoning={"openai": evil}))
            wait_for(driver, "return document.body.dataset.lastCycle", "2")
            assert evil in driver.find_element(By.CSS_SELECTOR, "#feed li[data-cycle='2']").text
            time.sleep(0.5)  # give an injected onerror handler its chance to fire
            assert js(driver, "return window.__pwned === undefined") is True
            assert (
                js(driver, "return document.querySelectorAll('main script, main img').length") == 0
            )
    finally:
        reader.close()


def test_page_reconnects_and_catches_up_without_reload(
    settings: Settings, store: ArenaStore
) -> None:
    """The server goes away, two cycles are recorded, a server comes back on the same
    address: the open page shows both cycles, once each, and keeps following."""
    port = free_port()
    first, reader = build(settings)
    seed(store, "arena", 1, 3)
    try:
        with chromium() as driver:
            with live_server(first, port=port) as base:
                driver.get(base + "/")
                wait_for(driver, "return document.body.dataset.loaded", "true")
                wait_for(driver, "return document.getElementById('status').textContent", "live")
                js(driver, "window.__sameDocument = 'yes'")
            wait_for(driver, "return document.getElementById('status').textContent", "reconnecting")
            seed(store, "arena", 4, 5)
            second, reader2 = build(settings)
            try:
                with live_server(second, port=port):
                    wait_for(driver, "return document.body.dataset.lastCycle", "5")
                    seed(store, "arena", 6, 6)
                    wait_for(driver, "return document.body.dataset.lastCycle", "6")
                    wait_for(driver, "return document.getElementById('chart').dataset.points", "6")
                    shown = js(
                        driver,
                        "return [...document.querySelectorAll('#feed li')]"
                        ".map(li => li.dataset.cycle)",
                    )
                    assert shown == ["6", "5", "4", "3", "2", "1"]  # no gap, no duplicate
                    assert js(driver, "return window.__sameDocument") == "yes"
            finally:
                reader2.close()
    finally:
        reader.close()


def test_a_long_answer_is_cut_and_its_full_text_one_click_away(
    settings: Settings, store: ArenaStore
) -> None:
    """150,000 characters of reasoning: the card shows the cut text and its marker, the
    button brings the whole text; a critique arriving live the same."""
    long = "grok thinks " + "very " * 30_000
    app, reader = build(settings)
    try:
        store.record_cycle(cycle_record("arena", 1, reasoning={"grok": long}))
        with live_server(app) as base, chromium() as driver:
            driver.get(base + "/")
            wait_for(driver, "return document.body.dataset.loaded", "true")
            card = "#agents [data-agent='grok']"
            shown = driver.find_element(By.CSS_SELECTOR, f"{card} .reasoning").text
            assert len(shown) < 2100 and "more characters]" in shown
            driver.find_element(By.CSS_SELECTOR, f"{card} button.full").click()
            script = f'return document.querySelector("{card} .reasoning").textContent.length'
            wait_for(driver, script, len(long))
            assert driver.find_elements(By.CSS_SELECTOR, f"{card} button.full") == []
    finally:
        reader.close()


def test_token_login_in_chromium_stays_on_the_site(settings: Settings, store: ArenaStore) -> None:
    """Chromium turns `/\\evil.example` into `//evil.example`: the login's redirect must
    still land on the dashboard's own page."""
    from mytrader.web.app import DashboardConfig, create_app

    token = "t0ken-" + "cd" * 12
    app, reader = build(settings)
    try:
        seed(store, "arena", 1, 2)
        config = DashboardConfig(default_arena="arena", token=token)
        with live_server(create_app(reader, config)) as base, chromium() as driver:
            for target in ("/\\evil.example", "//evil.example", "/%2fevil.example"):
                driver.get(f"{base}{target}?token={token}")
                assert driver.current_url == base + "/", (target, driver.current_url)
                wait_for(driver, "return document.body.dataset.loaded", "true")
    finally:
        reader.close()


def test_page_shows_the_evidence_badges_matrix_and_calibration(
    settings: Settings, store: ArenaStore
) -> None:
    """An arena past the minimum days: every account's badge says how sure its Sharpe is
    (the status of `/api/evidence`), the who-beats-whom matrix names every account and
    SPY, and the calibration table has a row per author of a stated confidence."""
    from mytrader.app.evidence import arena_evidence
    from mytrader.app.runner import open_arena

    with open_arena(settings) as arena:
        for _ in range(25):
            arena.run_cycle()
    expected = arena_evidence(store, settings.arena_id)
    app, reader = build(settings)
    try:
        with live_server(app) as base, chromium() as driver:
            driver.get(base + "/")
            wait_for(driver, "return document.body.dataset.loaded", "true")
            badges = js(
                driver,
                "return Object.fromEntries([...document.querySelectorAll('#leaderboard .badge')]"
                ".map(b => [b.dataset.account, b.textContent]))",
            )
            assert badges == {a.account: a.status.text for a in expected.accounts}
            assert all(b.is_displayed() for b in driver.find_elements(By.CSS_SELECTOR, ".badge"))
            heads = js(
                driver,
                "return [...document.querySelectorAll('#beats tr:first-child th')]"
                ".map(th => th.textContent)",
            )
            assert heads[1:] == expected.beats.names and heads[-1] == "SPY"
            rows = js(driver, "return document.querySelectorAll('#beats tr').length")
            assert rows == len(expected.beats.names) + 1
            p = expected.beats.p[0][1]
            cell = "#beats tr:nth-child(2) td:nth-child(3)"
            assert driver.find_element(By.CSS_SELECTOR, cell).text == (
                f"{round(p * 100)}%" if p is not None else f"{expected.beats.days[0][1]} d"
            )
            calibrated = js(
                driver,
                "return [...document.querySelectorAll('#calibration tr td:first-child')]"
                ".map(td => td.textContent.split(' ')[0])",
            )
            assert calibrated == list(expected.calibration)
            assert expected.calibration, "house models close trades in 25 days"
            assert "Brier" in driver.find_element(By.ID, "calibration").text
            assert driver.find_element(By.ID, "attribution").text
    finally:
        reader.close()
