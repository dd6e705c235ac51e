"""Net of the LLM bill (issue 17), on a run with real `ChatOpenAI` against the local
OpenAI-compatible server, which reports a cost per call: the llm_usage rows are known,
and every net figure equals the gross one minus the cumulative cost, computed here
independently from the raw tables."""

from __future__ import annotations

import math
import sqlite3
from decimal import Decimal
from pathlib import Path

import numpy as np

from mytrader.app.evidence import arena_evidence
from mytrader.app.leaderboard import leaderboard
from mytrader.app.runner import open_arena
from mytrader.app.storage import open_store
from mytrader.config import PERSONAS
from tests.helpers import make_settings
from tests.integration.test_openrouter_agents import API_KEY, trader
from tests.servers import ChatServer

COST = 0.37  # dollars per call, as OpenRouter's usage.cost
CYCLES = 23  # past the minimum days: a net Sharpe too


def test_net_figures_are_gross_minus_the_cumulative_llm_bill(tmp_path: Path) -> None:
    with ChatServer(default=trader(cost=COST)) as srv:
        settings = make_settings(
            mytrader_home=tmp_path / "home",
            openrouter_api_key=API_KEY,
            openrouter_base_url=srv.base_url,
            llm_max_retries=0,
            llm_timeout_s=10.0,
        )
        with open_arena(settings) as arena:
            for _ in range(CYCLES):
                arena.run_cycle()
        calls = len(srv.chat_requests)
        assert srv.errors == []

    arena = settings.arena_id
    db = sqlite3.connect(tmp_path / "home" / "arena.sqlite")
    usage = db.execute(
        "SELECT u.agent, c.as_of, u.cost_usd, u.calls FROM llm_usage u JOIN cycles c"
        " ON c.arena = u.arena AND c.cycle = u.cycle WHERE u.arena = ? ORDER BY u.cycle",
        (arena,),
    ).fetchall()
    snaps = db.execute(
        "SELECT account, as_of, equity FROM portfolio_snapshots WHERE arena = ? ORDER BY cycle",
        (arena,),
    ).fetchall()
    db.close()
    # the known rows: every call billed COST, to the persona that made it
    assert sum(int(n) for *_, n in usage) == calls
    assert {a for a, *_ in usage} == set(PERSONAS)
    total = {p: sum(Decimal(c) for a, _, c, _ in usage if a == p) for p in PERSONAS}
    assert sum(total.values()) == Decimal(str(COST)) * calls

    with open_store(settings) as store:
        rows = {r.account: r for r in leaderboard(store, arena)}
        ev = arena_evidence(store, arena)
    last = {a: Decimal(e) for a, _, e in snaps}  # the last snapshot per account
    for p in PERSONAS:
        assert rows[p].llm_cost_usd == total[p] > 0
        assert rows[p].net_equity == last[p] - total[p]
        assert rows[p].net_equity < rows[p].equity
    collab = rows["collaborative"]
    assert collab.llm_cost_usd == 0 and collab.net_equity == last["collaborative"]

    by = {a.account: a for a in ev.accounts}
    assert not by["collaborative"].pays_llm_bill
    assert by["collaborative"].net == by["collaborative"].gross
    for p in PERSONAS:
        a = by[p]
        assert a.pays_llm_bill and a.llm_cost_usd == total[p]
        assert a.net.end_equity == last[p] - total[p]
        # the net curve, day by day: equity minus the bill so far (one cycle a day)
        days = [d for acc, d, _ in snaps if acc == p]
        gross = [Decimal(e) for acc, _, e in snaps if acc == p]
        net = [
            g - sum((Decimal(c) for a, d, c, _ in usage if a == p and d <= day), Decimal(0))
            for g, day in zip(gross, days, strict=True)
        ]
        x = np.array([float(v) for v in net])
        r = x[1:] / x[:-1] - 1
        sharpe = r.mean() / r.std(ddof=1) * math.sqrt(252)
        assert a.days == CYCLES - 1 and a.net.sharpe is not None
        assert a.net.sharpe == round(sharpe, 6)
        base = gross[0]
        assert a.net.return_pct == round(float(net[-1] / base - 1) * 100, 6)
        assert a.gross.return_pct == round(float(gross[-1] / base - 1) * 100, 6)
