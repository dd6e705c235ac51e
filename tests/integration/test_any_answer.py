"""Property: whatever the models answer, the cycle completes and the books stay exact.

Arbitrary answers (huge, negative, fractional, unicode-digit, non-numeric quantities,
unknown symbols, wrong types, oversized text, nested junk) go through the real graph:
parse, risk gate, executor, simulated exchange, record, on SQLite and PostgreSQL, with a
scripted chat model per persona injected through `open_arena(settings, models=...)`.
After every cycle: each book satisfies cash + cost basis - realized P&L + fees ==
starting cash to the cent, no cash is negative, and the database holds every order leg
and snapshot of the cycle (PostgreSQL accepted every row).
"""

from __future__ import annotations

import itertools
import json
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st
from langchain_core.language_models import GenericFakeChatModel

from mytrader.app.runner import open_arena
from mytrader.config import ACCOUNTS, PERSONAS
from mytrader.domain.book import Book
from mytrader.domain.parsing import MAX_ANSWER_CHARS
from tests.helpers import make_settings

HOLD = '{"decision": "HOLD", "reasoning": "nothing", "confidence": 1}'
SYMBOLS = ["AAPL", "NVDA", "MSFT", "MRNA", "aapl", "ZZZZ", "", "SPY "]

_raw_quantity = st.one_of(
    st.integers(min_value=1, max_value=400).map(str),  # plausible: these trade
    st.integers(min_value=-(10**6), max_value=10**25).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(json.dumps),
    st.sampled_from(
        [
            "1e308",
            '"99999999999999999999999"',
            "5000000000",
            "1000000000",
            '"²"',
            '"１２"',
            '"٣"',
            "2.5",
            '"12.0"',
            '"ten"',
            "null",
            "true",
            "[1]",
            '{"n": 1}',
            "9" * 400,
        ]
    ),
)
_raw_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=8,
).map(json.dumps)


@st.composite
def decision_text(draw: st.DrawFn) -> str:
    action = draw(st.sampled_from(['"BUY"', '"SELL"', '"buy"', '"HOLD"', '"SHORT"']) | _raw_json)
    symbol = draw(st.sampled_from(SYMBOLS).map(json.dumps) | _raw_json)
    quantity = draw(_raw_quantity)
    confidence = draw(st.integers(-5, 120).map(str) | _raw_json | st.just('"９０"'))
    body = (
        f'{{"decision": {action}, "symbol": {symbol}, "quantity": {quantity},'
        f' "confidence": {confidence}, "reasoning": "r"}}'
    )
    wrap = draw(st.sampled_from(["{}", "```json\n{}\n```", "<think>{{x}}</think>{}", "ok: {}"]))
    return wrap.replace("{}", body, 1) if wrap != "{}" else body


answer = st.one_of(
    decision_text(),
    decision_text(),
    st.text(max_size=80),
    st.just("x" * (MAX_ANSWER_CHARS + 1)),
    st.just('{"decision": ' * 3000),
    st.just("[" * 5000 + HOLD),
)
# Per persona: answers for two cycles (an answer and a repair turn each), then HOLDs.
scripts = st.fixed_dictionaries({p: st.lists(answer, min_size=4, max_size=4) for p in PERSONAS})


def _buy(quantity: str, symbol: str = "AAPL") -> str:
    return f'{{"decision": "BUY", "symbol": "{symbol}", "quantity": {quantity}, "confidence": 80}}'


# The answers that broke a run on the old main, always tried first.
KNOWN_BREAKERS = {
    PERSONAS[0]: [_buy("1e308"), _buy("1e308"), _buy('"²"'), _buy('"²"')],
    PERSONAS[1]: [_buy('"99999999999999999999999"'), _buy("3", "NVDA"), _buy("５"), HOLD],
    PERSONAS[2]: [_buy("5000000000"), _buy("10", "MSFT"), _buy("5000000000"), HOLD],
}


def check_books(values: dict[str, Any]) -> None:
    for account in ACCOUNTS:
        book = Book.model_validate(values["books"][account])
        cost = sum((p.cost_basis for p in book.positions.values()), Decimal(0))
        assert book.cash >= 0, (account, book.cash)
        assert book.cash + cost - book.realized_pnl + book.fees == book.starting_cash, account
        assert all(p.qty > 0 for p in book.positions.values())


def test_any_answer_completes_the_cycle_with_exact_books(backend) -> None:
    arena_settings = make_settings(**backend)
    models = {p: GenericFakeChatModel(messages=iter([HOLD])) for p in PERSONAS}

    placed: list[str] = []

    with open_arena(arena_settings, models=models) as arena:
        store = arena.services.store

        @settings(
            max_examples=12,
            deadline=None,
            suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
        )
        @given(script=scripts)
        @example(script=KNOWN_BREAKERS)
        def run(script: dict[str, list[str]]) -> None:
            arena.reset()
            for persona, answers in script.items():
                models[persona].messages = itertools.chain(answers, itertools.repeat(HOLD))
            for expected in (1, 2):
                summary = arena.run_cycle()
                assert summary.status == "trading" and summary.cycle == expected
                values = arena.values()
                assert not arena.graph.get_state(arena.config).next  # the cycle ended
                check_books(values)
                assert store.last_cycle(arena_settings.arena_id) == expected
                recorded = [t for t in store.trades(arena_settings.arena_id) if t.cycle == expected]
                assert len(recorded) == len(values.get("orders") or [])
                snaps = [s for s in store.snapshots(arena_settings.arena_id) if s.cycle == expected]
                assert len(snaps) == len(ACCOUNTS)
                for d in summary.decisions.values():
                    assert 0 <= d.decision.quantity <= 1_000_000_000
                placed.extend(o.status for o in summary.orders)
                event(f"cycle {expected}: {len(summary.orders)} order leg(s)")

        run()
    # The repaired answers of KNOWN_BREAKERS place orders: the books were exercised.
    assert any(status not in ("refused", "rejected") for status in placed), placed
