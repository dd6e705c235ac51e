"""The evidence statistics (domain/evidence*.py) against independent computations: the block
bootstrap on AR(1) series with a known Sharpe standard error, PSR and MinTRL against their
formulas and a published worked value, the words of "too early to tell", who beats whom, net of
the LLM bill, calibration and attribution on hand-made sets."""

from __future__ import annotations

import json
import math
from datetime import date, timedelta
from decimal import Decimal
from statistics import NormalDist

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.signal import lfilter

from mytrader.domain import evidence_sharpe as es
from mytrader.domain.evidence import (
    Evidence,
    EvidenceParams,
    Point,
    cost_on,
    evidence_of,
    status_of,
)
from mytrader.domain.evidence_trades import (
    ClosedTrade,
    VotedTrade,
    Voter,
    attribution,
    calibration,
    split_pnl,
)

Z95 = NormalDist().inv_cdf(0.975)  # two-sided 95 %
Z_ONE_SIDED = NormalDist().inv_cdf(0.95)


def days(n: int) -> list[str]:
    return [(date(2024, 1, 1) + timedelta(days=i)).isoformat() for i in range(n)]


def curve(returns: np.ndarray, start: str = "100000") -> list[Point]:
    """An equity curve (cents) whose daily returns are close to `returns`."""
    values = [Decimal(start)]
    for r in returns:
        values.append((values[-1] * Decimal(1 + float(r))).quantize(Decimal("0.01")))
    return [Point(day=d, value=v) for d, v in zip(days(len(values)), values, strict=True)]


def curve_returns(points: list[Point]) -> np.ndarray:
    x = np.array([float(p.value) for p in points])
    return x[1:] / x[:-1] - 1.0


# --- 1. the block bootstrap on series with known properties ----------------------------------

PHI, N, MU, INNOVATION = 0.5, 1000, 0.0005, 0.01


def ar1(rng: np.random.Generator, count: int) -> np.ndarray:
    """count Gaussian AR(1) series of N days: x_t = MU + PHI (x_{t-1} - MU) + e_t (burn-in 200)."""
    e = rng.standard_normal((count, N + 200)) * INNOVATION
    return lfilter([1.0], [1.0, -PHI], e, axis=1)[:, 200:] + MU


def analytic_sharpe_se() -> float:
    """Asymptotic SE of the annualised Sharpe of a Gaussian AR(1) (Lo 2002, by the delta method
    on (mean, variance) with their long-run covariance, as Newey-West estimates it):
    n Var(SR) = (1 + phi) / (1 - phi) + SR^2 / 2 (1 + phi^2) / (1 - phi^2); with phi = 0 it
    is the i.i.d. 1 + SR^2 / 2."""
    sigma = INNOVATION / math.sqrt(1 - PHI**2)
    sr = MU / sigma
    var = (1 + PHI) / (1 - PHI) + sr**2 / 2 * (1 + PHI**2) / (1 - PHI**2)
    return math.sqrt(var / N) * math.sqrt(252)


def test_the_analytic_reference_is_the_sharpe_spread_of_many_ar1_series() -> None:
    series = ar1(np.random.default_rng(11), 20000)
    sharpes = series.mean(axis=1) / series.std(axis=1, ddof=1) * math.sqrt(252)
    assert float(sharpes.std()) == pytest.approx(analytic_sharpe_se(), rel=0.05)


def test_on_ar1_the_iid_interval_is_too_narrow_and_the_block_one_is_close_to_analytic() -> None:
    analytic = 2 * Z95 * analytic_sharpe_se()
    block_ratio, iid_ratio = [], []
    for x in ar1(np.random.default_rng(2024), 12):
        block = es.sharpe_interval(x)
        iid = es.sharpe_interval(x, block=1)
        assert block is not None and iid is not None
        assert block.block_length >= 6  # the rule sees the autocorrelation
        assert iid.high - iid.low < block.high - block.low
        block_ratio.append((block.high - block.low) / analytic)
        iid_ratio.append((iid.high - iid.low) / analytic)
    # The i.i.d. width is about sqrt((1 - phi) / (1 + phi)) = 0.58 of the right one.
    assert np.mean(iid_ratio) < 0.65
    assert 0.88 <= np.mean(block_ratio) <= 1.08
    assert min(block_ratio) > 0.8


def test_on_iid_returns_the_rule_picks_short_blocks_and_matches_the_iid_se() -> None:
    rng = np.random.default_rng(7)
    analytic = 2 * Z95 * math.sqrt((1 + (MU / INNOVATION) ** 2 / 2) / N) * math.sqrt(252)
    ratios = []
    for _ in range(4):
        x = rng.standard_normal(N) * INNOVATION + MU
        found = es.sharpe_interval(x)
        assert found is not None and found.block_length <= 3
        ratios.append((found.high - found.low) / analytic)
    assert 0.85 <= np.mean(ratios) <= 1.15


def test_the_interval_is_seeded_and_the_block_length_bounded() -> None:
    x = ar1(np.random.default_rng(3), 1)[0][:200]
    assert es.sharpe_interval(x) == es.sharpe_interval(x)
    assert es.sharpe_interval(x) != es.sharpe_interval(x, seed=1)
    walk = np.cumsum(np.random.default_rng(4).standard_normal(20)) * 0.01 + 0.001
    assert 1 <= es.block_length(walk) <= 10  # at most n / 2
    assert es.block_length(np.zeros(50)) == 1
    assert es.sharpe_interval(np.zeros(50)) is None


# --- 2. PSR and minimum track record length --------------------------------------------------


def hand_psr(r: list[float], benchmark: float) -> tuple[float, float]:
    """PSR and MinTRL written out from the paper, with plain moments (no numpy, no scipy)."""
    n = len(r)
    mean = sum(r) / n
    sd = math.sqrt(sum((x - mean) ** 2 for x in r) / (n - 1))
    m2 = sum((x - mean) ** 2 for x in r) / n
    skew = sum((x - mean) ** 3 for x in r) / n / m2**1.5
    kurt = sum((x - mean) ** 4 for x in r) / n / m2**2
    sr = mean / sd
    var = 1 - skew * sr + (kurt - 1) / 4 * sr**2
    psr = NormalDist().cdf((sr - benchmark) * math.sqrt(n - 1) / math.sqrt(var))
    trl = 1 + var * (Z_ONE_SIDED / (sr - benchmark)) ** 2
    return psr, trl


def test_psr_and_min_track_record_match_the_formulas_written_out() -> None:
    r = (np.random.default_rng(5).standard_t(4, 300) * 0.01 + 0.003).tolist()
    x = np.array(r)
    assert es.daily_sharpe(x) > 0.05  # type: ignore[operator]
    for benchmark in (0.0, 0.05):
        psr, trl = hand_psr(r, benchmark)
        assert es.psr(x, benchmark) == pytest.approx(psr, abs=1e-12)
        assert es.min_track_record(x, benchmark) == math.ceil(trl)
    assert es.psr(x, 0.05) < es.psr(x, 0.0)  # type: ignore[operator]
    assert es.min_track_record(-x) is None  # a negative Sharpe: no length suffices


def test_psr_reproduces_the_deflated_sharpe_papers_worked_example() -> None:
    """Bailey & López de Prado (2014), "The Deflated Sharpe Ratio", numerical example: the best
    of N = 100 trials, annualised Sharpe 2.5 over T = 1250 days (250 a year), skewness -3,
    kurtosis 10, variance of the trials' annualised Sharpes 1/2; the expected maximum Sharpe
    under the null is SR0 = 0.1132 a day, and PSR(SR0), the DSR, is 0.9004. (The inputs and
    the two results are quoted from memory of the paper: its text was not at hand here; that
    both come out to four decimals from the formulas is the check.)"""
    euler = 0.5772156649015329
    trials, per_year = 100, 250
    sd = math.sqrt(0.5 / per_year)
    sr0 = sd * (
        (1 - euler) * NormalDist().inv_cdf(1 - 1 / trials)
        + euler * NormalDist().inv_cdf(1 - 1 / (trials * math.e))
    )
    assert round(sr0, 4) == 0.1132
    found = es.psr_of(2.5 / math.sqrt(per_year), 1250, skew=-3.0, kurt=10.0, benchmark=sr0)
    assert found is not None and round(found, 4) == 0.9004


def test_at_its_minimum_track_record_length_the_psr_is_95_percent() -> None:
    sr, skew, kurt = 0.1, -0.5, 6.0
    trl = es.min_trl_of(sr, skew, kurt)
    assert trl is not None
    var = 1 - skew * sr + (kurt - 1) / 4 * sr**2
    assert NormalDist().cdf(sr * math.sqrt(trl - 1) / math.sqrt(var)) == pytest.approx(0.95)
    # Normal returns: 1 + (1 + SR^2 / 2) (z / SR)^2 = 272.9 days at a Sharpe of 0.1 a day.
    normal = es.min_trl_of(0.1, 0.0, 3.0)
    assert normal == pytest.approx(1 + 1.005 * (Z_ONE_SIDED / 0.1) ** 2)
    assert normal == pytest.approx(272.91, abs=0.01)
    assert es.min_trl_of(0.1, 0.0, 3.0, benchmark=0.1) is None


# --- 3. too early to tell --------------------------------------------------------------------


def drift(n: int, mu: float, seed: int = 1, sd: float = 0.01) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(n) * sd + mu


def test_three_cycles_give_no_sharpe_only_words() -> None:
    ev = evidence_of({"claude": curve(np.array([0.05, 0.04]))})
    account = ev.accounts[0]
    assert account.days == 2
    assert account.gross.sharpe is None and account.gross.ci95_low is None
    assert account.gross.psr_vs_zero is None and account.gross.min_track_record_days is None
    assert account.status.text == "too early to tell: 2 of 20 days"
    assert account.status.code == "too_early" and account.status.needed_days == 20
    assert account.gross.return_pct == pytest.approx(9.2, abs=0.01)  # the return is a fact


def test_the_minimum_of_days_is_the_line() -> None:
    r = drift(20, 0.002)
    assert evidence_of({"a": curve(r[:19])}).accounts[0].gross.sharpe is None
    twenty = evidence_of({"a": curve(r)}).accounts[0]
    assert twenty.days == 20 and twenty.gross.sharpe is not None
    assert twenty.gross.ci95_low is not None and twenty.gross.block_length is not None


def test_until_the_minimum_track_record_the_status_says_too_early_in_its_words() -> None:
    points = curve(drift(60, 0.001, seed=2))
    account = evidence_of({"a": points}).accounts[0]
    needed = account.gross.min_track_record_days
    assert needed is not None and needed > 60
    assert needed == es.min_track_record(curve_returns(points))
    assert account.status.text == f"too early to tell: 60 of {needed} days"
    assert account.status.code == "short"


def test_a_long_strong_record_is_long_enough_and_a_losing_one_shows_no_edge() -> None:
    strong = evidence_of({"a": curve(drift(300, 0.003, seed=3))}).accounts[0]
    assert strong.status.code == "enough"
    needed = strong.gross.min_track_record_days
    assert strong.status.text == f"long enough: 300 days of {needed} needed (95 %)"
    assert strong.gross.psr_vs_zero is not None and strong.gross.psr_vs_zero > 0.95
    assert strong.gross.ci95_low is not None and strong.gross.ci95_low > 0
    losing = evidence_of({"a": curve(drift(100, -0.002, seed=4))}).accounts[0]
    assert losing.status.text == "no edge shown: Sharpe not above 0 after 100 days"
    flat = evidence_of({"a": curve(np.zeros(40))}).accounts[0]
    assert flat.status.text == "no Sharpe: equity unchanged over 40 days"


def test_status_words_are_a_function_of_the_days_and_the_gross_figures() -> None:
    gross = evidence_of({"a": curve(drift(60, 0.0015, seed=2))}).accounts[0].gross
    assert status_of(5, gross).text == "too early to tell: 5 of 20 days"
    assert status_of(5, gross, min_days=30).needed_days == 30


# --- 4. who beats whom -----------------------------------------------------------------------


def test_the_matrix_is_paired_complementary_and_includes_spy() -> None:
    base = drift(250, 0.0002, seed=8)
    curves = {
        "grok": curve(drift(250, 0.004, seed=9)),
        "gpt": curve(base + 0.0005),  # SPY plus a constant edge a day
        "claude": curve(drift(250, -0.003, seed=10)),
    }
    ev = evidence_of(curves, spy=curve(base))
    m = ev.beats
    assert m.names == ["claude", "gpt", "grok", "SPY"]
    i = {name: k for k, name in enumerate(m.names)}
    assert all(m.p[k][k] is None for k in range(4))
    for a in range(4):
        for b in range(4):
            if a != b:
                assert m.p[a][b] is not None and m.p[b][a] is not None
                assert m.p[a][b] + m.p[b][a] == pytest.approx(1.0)  # type: ignore[operator]
                assert m.days[a][b] == 250
    # Same resampled days for both: SPY + c has SPY's risk and more return in every resample.
    assert m.p[i["gpt"]][i["SPY"]] == 1.0
    assert m.p[i["grok"]][i["claude"]] > 0.99  # type: ignore[operator]


def test_pairs_are_over_the_common_days_only() -> None:
    long, short = curve(drift(100, 0.001, seed=1)), curve(drift(100, 0.001, seed=2))
    m = evidence_of({"a": long, "b": short[:15]}).beats
    assert m.days[0][1] == 14 and m.p[0][1] is None  # below the minimum of days
    r_a, r_b = drift(60, 0.001, seed=5), drift(60, 0.001, seed=6)
    assert es.beat_probability(r_a, r_b) == es.beat_probability(r_a, r_b)
    assert es.beat_probability(r_a, r_b) == pytest.approx(1 - es.beat_probability(r_b, r_a))  # type: ignore[operator]
    with pytest.raises(ValueError):
        es.beat_probability(r_a, r_b[:-1])


# --- 5. net of the LLM bill ------------------------------------------------------------------


def test_net_equity_return_and_sharpe_after_the_cumulative_bill() -> None:
    gross = curve(drift(30, 0.002, seed=12))
    d = [p.day for p in gross]
    costs = [Point(day=d[0], value=Decimal("1.50")), Point(day=d[10], value=Decimal("40.25"))]
    ev = evidence_of({"deepseek": gross}, costs={"deepseek": costs})
    account = ev.accounts[0]
    net_values = [
        p.value - (Decimal("1.50") if i < 10 else Decimal("40.25")) for i, p in enumerate(gross)
    ]
    assert account.llm_cost_usd == Decimal("40.25") and account.pays_llm_bill
    assert account.net.end_equity == net_values[-1] == gross[-1].value - Decimal("40.25")
    expected_return = float(net_values[-1] / gross[0].value - 1) * 100
    assert account.net.return_pct == pytest.approx(expected_return, abs=1e-6)
    assert account.net.return_pct < account.gross.return_pct  # type: ignore[operator]
    x = np.array([float(v) for v in net_values])
    r = x[1:] / x[:-1] - 1
    assert account.net.sharpe == pytest.approx(r.mean() / r.std(ddof=1) * math.sqrt(252), abs=1e-6)


def test_the_cost_on_a_day_is_the_latest_point_on_or_before_it() -> None:
    costs = [Point(day="2024-01-03", value=Decimal("2")), Point(day="2024-01-07", value=Decimal(5))]
    assert cost_on(costs, "2024-01-02") == 0
    assert cost_on(costs, "2024-01-03") == 2
    assert cost_on(costs, "2024-01-06") == 2
    assert cost_on(costs, "2024-02-01") == 5


def test_the_collaborative_account_pays_nothing_and_house_models_are_net_equal_gross() -> None:
    points = curve(drift(30, 0.001, seed=13))
    ev = evidence_of({"collaborative": points, "claude": points})
    collab = next(a for a in ev.accounts if a.account == "collaborative")
    assert not collab.pays_llm_bill and collab.llm_cost_usd == 0
    for account in ev.accounts:
        assert account.net == account.gross
    bill = {"collaborative": [Point(day=points[0].day, value=Decimal("1"))]}
    with pytest.raises(ValueError, match="pays for nothing"):
        evidence_of({"collaborative": points}, costs=bill)


# --- 6. calibration --------------------------------------------------------------------------


def test_brier_reliability_and_weighted_hit_rate_on_a_hand_made_set() -> None:
    trades = [
        ClosedTrade(confidence=90, won=True, pnl=Decimal("50")),
        ClosedTrade(confidence=80, won=False, pnl=Decimal("-20")),
        ClosedTrade(confidence=70, won=True, pnl=Decimal("30")),
        ClosedTrade(confidence=60, won=False, pnl=Decimal("-10")),
        ClosedTrade(confidence=30, won=True),
        ClosedTrade(confidence=10, won=False, pnl=Decimal("-5")),
        ClosedTrade(confidence=100, won=True, pnl=Decimal("40")),
    ]
    c = calibration(trades)
    # (.01 + .64 + .09 + .36 + .49 + .01 + 0) / 7 = 1.60 / 7
    assert c.trades == 7 and c.brier == pytest.approx(1.6 / 7, abs=1e-6)
    assert c.win_rate == pytest.approx(4 / 7, abs=1e-6)
    assert c.brier_of_base_rate == pytest.approx(12 / 49, abs=1e-6)
    assert c.mean_stated == pytest.approx(440 / 700, abs=1e-6)
    assert c.weighted_hit_rate == pytest.approx(290 / 440, abs=1e-6)  # 90 + 70 + 30 + 100
    table = [(b.low, b.high, b.trades, b.mean_stated, b.win_rate, b.pnl) for b in c.bands]
    assert table == [
        (0, 20, 1, 0.1, 0.0, Decimal("-5")),
        (20, 40, 1, 0.3, 1.0, None),
        (40, 60, 0, None, None, None),
        (60, 80, 2, 0.65, 0.5, Decimal("20")),
        (80, 100, 3, 0.9, 0.666667, Decimal("70")),
    ]


def test_calibration_of_nothing_and_of_zero_confidence() -> None:
    empty = calibration([])
    assert empty.trades == 0 and empty.brier is None and len(empty.bands) == 5
    zero = calibration([ClosedTrade(confidence=0, won=False)])
    assert zero.brier == 0.0 and zero.weighted_hit_rate is None
    with pytest.raises(ValueError):
        ClosedTrade(confidence=101, won=True)


# --- 7. attribution of the collaborative account ---------------------------------------------


def voter(persona: str, weight: int, conviction: int) -> Voter:
    return Voter(persona=persona, weight=Decimal(weight), conviction=Decimal(conviction))


def test_attribution_on_a_hand_made_vote_history() -> None:
    history = [
        # 160 : 60 : 60 of 100.00 -> 57.142.., 21.428.., 21.428..: truncated 57.14 + 21.42 +
        # 21.42 = 99.98; the 2 cents left go to claude (largest), then gpt (tie, alphabetical).
        VotedTrade(
            ref="AAPL 2024-03-01",
            pnl=Decimal("100.00"),
            voters=[voter("grok", 1, 60), voter("claude", 2, 80), voter("gpt", 1, 60)],
        ),
        # Equal shares of -10.00: -3.33 each, the cent left (-0.01) to deepseek (alphabetical).
        VotedTrade(
            ref="MSFT 2024-03-04",
            pnl=Decimal("-10.00"),
            voters=[voter("gpt", 1, 50), voter("grok", 1, 50), voter("deepseek", 1, 50)],
        ),
        VotedTrade(ref="stop exit, no vote named", pnl=Decimal("5.00")),
    ]
    a = attribution(history)
    assert a.trades[0].parts == {
        "claude": Decimal("57.15"),
        "gpt": Decimal("21.43"),
        "grok": Decimal("21.42"),
    }
    assert a.trades[1].parts == {
        "deepseek": Decimal("-3.34"),
        "gpt": Decimal("-3.33"),
        "grok": Decimal("-3.33"),
    }
    assert a.by_persona == {
        "claude": Decimal("57.15"),
        "deepseek": Decimal("-3.34"),
        "gpt": Decimal("18.10"),
        "grok": Decimal("18.09"),
    }
    assert list(a.by_persona) == sorted(a.by_persona)
    assert a.unattributed == Decimal("5.00") and a.total_pnl == Decimal("95.00")
    assert sum(a.by_persona.values()) + a.unattributed == a.total_pnl


def test_finer_pnl_and_zero_convictions() -> None:
    fine = split_pnl(Decimal("1.005"), [voter("b", 1, 1), voter("a", 1, 1)])
    assert fine == {"a": Decimal("0.503"), "b": Decimal("0.502")}
    equal = split_pnl(Decimal("7"), [voter("x", 1, 0), voter("y", 2, 0)])
    assert equal == {"x": Decimal("3.50"), "y": Decimal("3.50")}
    with pytest.raises(ValueError, match="votes once"):
        VotedTrade(pnl=Decimal(1), voters=[voter("x", 1, 1), voter("x", 1, 2)])


@settings(max_examples=100, deadline=None)
@given(
    cents=st.integers(-(10**9), 10**9),
    votes=st.lists(st.tuples(st.integers(0, 16), st.integers(0, 100)), min_size=1, max_size=6),
)
def test_the_parts_always_sum_exactly_and_stay_within_a_cent_of_pro_rata(
    cents: int, votes: list[tuple[int, int]]
) -> None:
    pnl = Decimal(cents).scaleb(-2)
    voters = [voter(f"p{i}", w, c) for i, (w, c) in enumerate(votes)]
    parts = split_pnl(pnl, voters)
    assert sum(parts.values()) == pnl
    products = [Decimal(w * c) for w, c in votes]
    total = sum(products) or None
    for v, product in zip(voters, products, strict=True):
        exact = pnl * product / total if total else pnl / len(voters)
        assert abs(parts[v.persona] - exact) <= Decimal("0.01")


# --- 8. one call, one stable model -----------------------------------------------------------


def test_evidence_of_is_one_stable_json_model() -> None:
    base = drift(40, 0.0003, seed=20)
    kwargs = {
        "spy": curve(base),
        "costs": {"claude": [Point(day=days(1)[0], value=Decimal("0.42"))]},
        "trades": {"claude": [ClosedTrade(confidence=70, won=True)]},
        "votes": [VotedTrade(pnl=Decimal("3.00"), voters=[voter("claude", 1, 70)])],
        "params": EvidenceParams(samples=500),
    }
    equity = {"claude": curve(drift(40, 0.002, seed=21)), "collaborative": curve(base + 0.001)}
    first = evidence_of(equity, **kwargs).model_dump(mode="json")  # type: ignore[arg-type]
    again = evidence_of(equity, **kwargs).model_dump(mode="json")  # type: ignore[arg-type]
    assert json.dumps(first) == json.dumps(again)
    assert Evidence.model_validate(first).model_dump(mode="json") == first
    assert set(first) == {"params", "accounts", "spy", "beats", "calibration", "attribution"}
    claude = first["accounts"][0]
    assert claude["account"] == "claude" and claude["llm_cost_usd"] == "0.42"
    assert claude["status"]["text"].startswith(("too early to tell", "long enough", "no edge"))
    assert first["spy"]["psr_vs_spy"] is None and first["params"]["samples"] == 500
    assert first["attribution"]["by_persona"] == {"claude": "3.00"}
    assert first["calibration"]["claude"]["brier"] == pytest.approx(0.09)


def test_curves_must_run_forward_and_stay_positive() -> None:
    points = curve(drift(5, 0.0))
    with pytest.raises(ValueError, match="strictly increasing"):
        evidence_of({"a": list(reversed(points))})
    with pytest.raises(ValueError, match="positive"):
        evidence_of({"a": [Point(day="2024-01-01", value=Decimal(0)), *points[1:]]})
