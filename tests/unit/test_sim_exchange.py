"""The simulated exchange over a tiny hand-written CSV (and the bundled sample)."""

from __future__ import annotations

import gzip
import threading
from decimal import Decimal
from pathlib import Path

import pytest

from mytrader.adapters.bars import MarketDataError, load_bars
from mytrader.adapters.sim.exchange import SimulatedExchange
from mytrader.domain.models import OrderRequest
from mytrader.ports.broker import Broker, DuplicateOrderError
from mytrader.ports.ledger import InMemoryLedger, OrderLedger, SimOrder

D1, D2, D3, D4, D5 = "2024-01-02", "2024-01-03", "2024-01-04", "2024-01-05", "2024-01-08"

# symbol,date,open,high,low,close,volume -- rows deliberately not sorted.
TINY = """symbol,date,open,high,low,close,volume
BBB,2024-01-02,50,51,49,50,2000
AAA,2024-01-02,99,101,98,100,1000
AAA,2024-01-03,100,111,99,110,1000
AAA,2024-01-04,112,115,108,111,1500
AAA,2024-01-05,111,112,110,111,900
AAA,2024-01-08,111,113,110,112,800
BBB,2024-01-03,50,56,50,55,3000
BBB,2024-01-04,55,56,54,55.5,100
CCC,2024-01-02,200,201,199,200,100
CCC,2024-01-03,199,200,179,180,3000
DDD,2024-01-02,7,7,7,7,0
DDD,2024-01-03,20,21,19,20,9000
DDD,2024-01-04,20,21,19,21,9000
EEE,2024-01-02,10,10,10,10,400
EEE,2024-01-03,10,10,9.4,9.5,500
"""


@pytest.fixture
def tiny_csv(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.csv"
    path.write_text(TINY)
    return path


@pytest.fixture
def ex(tiny_csv: Path) -> SimulatedExchange:
    """Fill mechanics alone: these tests sell shares no order bought, so the account's
    rules (tested in test_sim_account_rules.py) are off here."""
    return SimulatedExchange(load_bars(tiny_csv), warmup_days=1, account_rules=False)


def order(
    cid: str = "o1", side: str = "buy", limit: str | None = None, **kw: object
) -> OrderRequest:
    fields: dict[str, object] = {
        "client_order_id": cid,
        "account": "grok",
        "symbol": "AAA",
        "side": side,
        "qty": 3,
        "limit_price": Decimal(limit) if limit else None,
        "type": "limit" if limit else "market",
        "as_of": D2,
    }
    fields.update(kw)
    return OrderRequest.model_validate(fields)


# --- loading -------------------------------------------------------------------------------


def test_loader_sorts_drops_filler_and_keeps_exact_prices(tiny_csv: Path) -> None:
    h = load_bars(tiny_csv)
    assert h.calendar == (D1, D2, D3, D4, D5)
    assert h.symbols == ("AAA", "BBB", "CCC", "DDD", "EEE")
    ddd = h.series("DDD")
    assert ddd is not None and list(ddd.dates) == [D2, D3]  # zero-volume filler dropped
    aaa = h.series("AAA")
    assert aaa is not None and list(aaa.dates) == [D1, D2, D3, D4, D5]
    assert aaa.bar(2).open == Decimal("112.0000")


def test_loader_bundled_sample_and_gzip(tmp_path: Path) -> None:
    h = load_bars()
    assert len(h.symbols) == 31 and len(h.calendar) == 501
    aapl = h.series("AAPL")
    assert aapl is not None
    first = aapl.bar(0)
    assert (first.date, first.open, first.close) == (
        "2023-10-09",
        Decimal("175.0950"),
        Decimal("177.2538"),
    )
    gz = tmp_path / "t.csv.gz"
    gz.write_bytes(
        gzip.compress(b"symbol,date,open,high,low,close,volume\nX,2024-01-02,1,2,1,2,5\n")
    )
    assert load_bars(gz).symbols == ("X",)


def test_loader_repairs_open_outside_range(tmp_path: Path) -> None:
    path = tmp_path / "q.csv"
    path.write_text(
        "symbol,date,open,high,low,close,volume\nH,2021-05-05,181.9,184.4,182.1,183.9,9\n"
    )
    bar = load_bars(path).series("H").bar(0)  # type: ignore[union-attr]
    assert bar.low == Decimal("181.9000") and bar.high == Decimal("184.4000")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("symbol,date,open,high,low,close\nA,2024-01-02,1,1,1,1\n", "volume"),
        ("symbol,day,open,high,low,close,volume\nA,2024-01-02,1,1,1,1,1\n", "date"),
        ("symbol,date,open,high,low,close,volume\nA,2024-01-02,x,1,1,1,1\n", "bad value"),
        ("symbol,date,open,high,low,close,volume\nA,02/01/2024,1,1,1,1,1\n", "bad date"),
        (
            "symbol,date,open,high,low,close,volume\nA,2024-01-02,1,1,1,1,1\nA,2024-01-02,1,1,1,1,1\n",
            "duplicate",
        ),
    ],
)
def test_loader_errors(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(MarketDataError, match=message):
        load_bars(path)


def test_loader_missing_file(tmp_path: Path) -> None:
    with pytest.raises(MarketDataError, match="not found"):
        load_bars(tmp_path / "nope.csv.gz")


# --- clock and reads -----------------------------------------------------------------------


def test_is_a_broker(ex: SimulatedExchange) -> None:
    assert isinstance(ex, Broker)
    assert isinstance(InMemoryLedger(), OrderLedger)
    assert ex.name == "sim"


def test_next_session_steps_and_exhausts(ex: SimulatedExchange) -> None:
    seen = []
    day = ex.next_session(None)
    while day is not None:
        seen.append(day)
        day = ex.next_session(day)
    assert seen == [D2, D3, D4, D5]  # warmup_days=1 skips D1
    assert ex.next_session("2024-01-06") == D5  # a weekend steps to the next session


def test_next_session_start_and_warmup(tiny_csv: Path) -> None:
    h = load_bars(tiny_csv)
    assert SimulatedExchange(h, warmup_days=1, start=D4).next_session(None) == D4
    assert SimulatedExchange(h, warmup_days=1, start="2024-01-06").next_session(None) == D5
    assert SimulatedExchange(h, warmup_days=3, start=D1).next_session(None) == D4  # warmup wins
    assert SimulatedExchange(h, warmup_days=5).next_session(None) is None


def test_is_open_universe_asset(ex: SimulatedExchange) -> None:
    assert ex.is_open(D3) and not ex.is_open("2024-01-06")
    assert ex.universe() == ["AAA", "BBB", "CCC", "DDD", "EEE"]
    info = ex.asset("AAA")
    assert info is not None and info.sector == "other"
    assert ex.asset("ZZZ") is None
    sample = SimulatedExchange()
    mrna = sample.asset("MRNA")
    assert mrna is not None and mrna.sector == "biotech" and mrna.name


def test_bars_never_after_as_of(ex: SimulatedExchange) -> None:
    for as_of in [D1, D2, D3, "2024-01-06", D5]:
        got = ex.bars(["AAA", "DDD", "ZZZ"], as_of, 100)
        for bars in got.values():
            assert all(b.date <= as_of for b in bars)
            assert [b.date for b in bars] == sorted(b.date for b in bars)
        assert got["ZZZ"] == []
    last_two = ex.bars(["AAA"], D4, 2)["AAA"]
    assert [b.date for b in last_two] == [D3, D4]
    assert last_two[-1].close == Decimal("111.0000")
    assert ex.bars(["AAA"], "2023-12-29", 5)["AAA"] == []


def test_bars_on_sample_end_at_as_of() -> None:
    sample = SimulatedExchange()
    cal = sample.history.calendar
    for i in (60, 200, len(cal) - 1):
        for bars in sample.bars(sample.universe(), cal[i], 120).values():
            assert len(bars) == min(120, i + 1) and bars[-1].date == cal[i]


def test_movers_by_hand(ex: SimulatedExchange) -> None:
    m = ex.movers(D2, 5)
    # AAA and BBB both +10% -> tie broken by symbol; DDD has no bar on D1 -> skipped.
    assert [x.symbol for x in m.gainers] == ["AAA", "BBB"]
    assert [x.change_pct for x in m.gainers] == [10.0, 10.0]
    assert [x.symbol for x in m.losers] == ["CCC", "EEE"]
    assert [x.change_pct for x in m.losers] == [-10.0, -5.0]
    # volumes: BBB 3000, CCC 3000 (tie -> symbol), AAA 1000, EEE 500
    assert [x.symbol for x in m.most_active] == ["BBB", "CCC", "AAA", "EEE"]
    assert m.gainers[0].price == Decimal("110.0000") and m.gainers[0].volume == 1000
    top1 = ex.movers(D2, 1)
    assert [x.symbol for x in top1.gainers + top1.losers + top1.most_active] == [
        "AAA",
        "CCC",
        "BBB",
    ]


def test_movers_skip_symbols_without_both_days(ex: SimulatedExchange) -> None:
    m = ex.movers(D3, 5)
    # D3: AAA +0.91%, BBB +0.91%, DDD +5%; CCC and EEE have no bar on D3.
    assert [x.symbol for x in m.gainers] == ["DDD", "AAA", "BBB"]
    assert m.losers == []
    assert ex.movers(D1, 5).gainers == []  # no previous session


# --- orders --------------------------------------------------------------------------------


def test_fill_at_next_open_not_seen_close(ex: SimulatedExchange) -> None:
    placed = ex.submit_order(order())
    assert placed.status == "pending" and placed.filled_qty == 0  # accepted, not filled
    assert ex.get_order("o1", D2) == placed  # nothing is known before the next bar
    r = ex.get_order("o1", D3)
    assert r is not None and r.status == "filled"
    assert r.filled_avg_price == Decimal("112.0000")  # D3 open, not D2's close of 110
    assert (r.filled_qty, r.filled_at, r.fee) == (3, D3, Decimal("0"))
    assert r.broker_order_id and r.account == "grok"
    assert ex.get_order("o1", D5) == r  # the outcome never changes afterwards


@pytest.mark.parametrize(
    ("limit", "status", "price"),
    [
        ("113", "filled", Decimal("112.0000")),  # open 112 <= limit: at the open
        ("109.5", "filled", Decimal("109.5")),  # open above, low 108 <= limit: at the limit
        ("107", "expired", None),  # low 108 > limit
    ],
)
def test_limit_buy(ex: SimulatedExchange, limit: str, status: str, price: Decimal | None) -> None:
    assert ex.submit_order(order(limit=limit)).status == "pending"
    r = ex.get_order("o1", D4)
    assert r is not None and r.status == status
    assert r.filled_avg_price == price
    if status == "expired":
        assert r.filled_qty == 0 and r.filled_at is None and "not reached" in r.reason


def test_sell_market_and_limit(ex: SimulatedExchange) -> None:
    ex.submit_order(order("s1", side="sell"))
    r = ex.get_order("s1", D3)
    assert r is not None and (r.status, r.filled_avg_price, r.filled_at) == (
        "filled",
        Decimal("112.0000"),
        D3,
    )
    ex.submit_order(order("s2", side="sell", limit="114"))  # high 115 reaches it
    r = ex.get_order("s2", D3)
    assert r is not None and (r.status, r.filled_avg_price) == ("filled", Decimal("114"))
    ex.submit_order(order("s3", side="sell", limit="116"))
    assert ex.get_order("s3", D3).status == "expired"  # type: ignore[union-attr]


def stop(cid: str, price: str, **kw: object) -> OrderRequest:
    return order(cid, side="sell", type="stop", stop_price=Decimal(price), **kw)


def test_gtc_stop_waits_for_its_bar_and_gaps_fill_at_the_open(ex: SimulatedExchange) -> None:
    # AAA lows after D2: D3 108, D4 110, D5 110. A stop at 108.5 triggers on D3 at the stop.
    ex.submit_order(stop("st1", "108.5", time_in_force="gtc"))
    r = ex.get_order("st1", D3)
    assert r is not None and (r.status, r.filled_avg_price) == ("filled", Decimal("108.5"))
    # Placed on D3 (close 111), a stop at 111.5: D4 opens at 111, below it: a gap, at the open.
    ex.submit_order(stop("st2", "111.5", time_in_force="gtc", as_of=D3))
    r = ex.get_order("st2", D4)
    assert r is not None and (r.status, r.filled_avg_price) == ("filled", Decimal("111.0000"))
    # A stop never reached stays pending (gtc) across days; a day one expires.
    ex.submit_order(stop("st3", "100", time_in_force="gtc"))
    assert ex.get_order("st3", D5).status == "pending"  # type: ignore[union-attr]
    ex.submit_order(stop("st4", "100"))
    assert ex.get_order("st4", D5).status == "expired"  # type: ignore[union-attr]


def test_oco_fills_on_the_first_trigger_and_assumes_the_stop_when_both(
    ex: SimulatedExchange,
) -> None:
    def oco(cid: str, take: str, stop_at: str) -> OrderRequest:
        return order(
            cid,
            side="sell",
            type="limit",
            order_class="oco",
            limit_price=Decimal(take),
            stop_price=Decimal(stop_at),
            time_in_force="gtc",
        )

    ex.submit_order(oco("tp", "114", "90"))  # D3 high 115: the take-profit
    assert ex.get_order("tp", D5).filled_avg_price == Decimal("114")  # type: ignore[union-attr]
    ex.submit_order(oco("both", "114", "108.5"))  # D3 reaches both: the stop, pessimistic
    assert ex.get_order("both", D5).filled_avg_price == Decimal("108.5")  # type: ignore[union-attr]
    ex.submit_order(oco("gap", "105", "90"))  # D3 opens at 112, above the take-profit
    assert ex.get_order("gap", D3).filled_avg_price == Decimal("112.0000")  # type: ignore[union-attr]
    bad = ex.submit_order(order("bad", side="buy", type="limit", order_class="oco"))
    assert bad.status == "rejected" and "OCO" in bad.reason


def test_cancel_stops_later_fills_and_keeps_earlier_ones(ex: SimulatedExchange) -> None:
    ex.submit_order(stop("c1", "100", time_in_force="gtc"))
    canceled = ex.cancel_order("c1", D3)
    assert canceled is not None and canceled.status == "canceled"
    assert ex.get_order("c1", D5).status == "canceled"  # type: ignore[union-attr]
    ex.submit_order(stop("c2", "108.5", time_in_force="gtc"))
    late = ex.cancel_order("c2", D4)  # it filled on D3, before the cancel
    assert late is not None and late.status == "filled"
    assert ex.cancel_order("nope") is None


def test_find_orders_by_prefix(ex: SimulatedExchange) -> None:
    for cid in ("a-1-x", "a-1-y", "a-2-x", "b-1-x"):
        ex.submit_order(order(cid))
    found = ex.find_orders("a-1-", D3)
    assert [o.client_order_id for o in found] == ["a-1-x", "a-1-y"]
    assert all(o.status == "filled" for o in found)


def test_ledger_find_is_every_id_with_the_prefix_in_order_and_no_more() -> None:
    ledger = InMemoryLedger()
    ids = ["a-10-x", "a-1-z", "a-1-", "a-1-a", "a-1", "a-2-x", "a-1-z0", "a-0-x", "b-1-x"]
    for cid in ids:
        assert ledger.put(SimOrder(request=order(cid), broker_order_id=cid))
    assert not ledger.put(SimOrder(request=order("a-1-a"), broker_order_id="again"))
    for prefix in ("a-1-", "a-1", "a-", "", "b", "a-1-z", "c", "a-1-a0"):
        expected = sorted(c for c in ids if c.startswith(prefix))
        assert [o.request.client_order_id for o in ledger.find(prefix)] == expected, prefix


def naive_movers(ex: SimulatedExchange, as_of: str, top: int) -> tuple[list[str], ...]:
    """The movers by their definition, one symbol at a time, from the bars."""
    rows = []
    for sym in ex.universe():
        bars = ex.bars([sym], as_of, 2)[sym]
        # (the sample has no gaps: the bar before is the session before)
        if len(bars) == 2 and bars[-1].date == as_of:
            change = round((float(bars[1].close) / float(bars[0].close) - 1) * 100, 6)
            rows.append((sym, change, bars[1].volume))
    up = sorted((r for r in rows if r[1] > 0), key=lambda r: (-r[1], r[0]))
    down = sorted((r for r in rows if r[1] < 0), key=lambda r: (r[1], r[0]))
    active = sorted(rows, key=lambda r: (-r[2], r[0]))
    return tuple([r[0] for r in group[:top]] for group in (up, down, active))


def test_movers_equal_their_definition_on_the_sample() -> None:
    ex = SimulatedExchange(load_bars(), warmup_days=1)
    days = ex.history.calendar[1::37]
    assert len(days) > 10
    for day in days:
        got = ex.movers(day, 7)
        names = tuple(
            [m.symbol for m in group] for group in (got.gainers, got.losers, got.most_active)
        )
        assert names == naive_movers(ex, day, 7), day
        assert all(m.price == ex.bars([m.symbol], day, 1)[m.symbol][0].close for m in got.gainers)


def test_clock_is_open_on_trading_days(ex: SimulatedExchange) -> None:
    clock = ex.clock(D2)
    assert clock.is_open and clock.timestamp == D2 and clock.next_open == D3
    assert not ex.clock("2024-01-06").is_open  # a Saturday


def test_rejected_when_history_ends_or_unknown(ex: SimulatedExchange) -> None:
    r = ex.submit_order(order("e1", as_of=D5))
    assert r.status == "expired" and "history ends" in r.reason
    ex.submit_order(order("e2", symbol="CCC", as_of=D2))  # CCC's data stops at D2
    r = ex.get_order("e2", D5)
    assert r is not None and r.status == "expired" and "history ends" in r.reason
    r = ex.submit_order(order("e3", symbol="ZZZ"))
    assert r.status == "rejected" and "unknown symbol" in r.reason


def test_duplicate_client_order_id(ex: SimulatedExchange) -> None:
    first = ex.submit_order(order("dup"))
    with pytest.raises(DuplicateOrderError):
        ex.submit_order(order("dup", limit="1"))
    assert ex.get_order("dup") == first
    assert ex.get_order("never") is None


def test_broker_order_id_is_deterministic(tiny_csv: Path) -> None:
    a = SimulatedExchange(load_bars(tiny_csv), warmup_days=1).submit_order(order("same"))
    b = SimulatedExchange(load_bars(tiny_csv), warmup_days=1).submit_order(order("same"))
    assert a.broker_order_id == b.broker_order_id


def test_ledger_is_injected_and_stores_copies(tiny_csv: Path) -> None:
    ledger = InMemoryLedger()
    ex = SimulatedExchange(load_bars(tiny_csv), ledger=ledger, warmup_days=1)
    ex.submit_order(order("x"))
    stored = ledger.get("x")
    assert stored is not None
    stored.canceled_as_of = D3  # the caller editing its copy does not edit the record
    assert ledger.get("x").canceled_as_of is None  # type: ignore[union-attr]
    assert ledger.put(stored) is False and len(ledger) == 1


def test_concurrent_duplicate_submits_fill_once(ex: SimulatedExchange) -> None:
    barrier = threading.Barrier(8)
    outcomes: list[str] = []

    def submit() -> None:
        barrier.wait()
        try:
            ex.submit_order(order("race"))
            outcomes.append("ok")
        except DuplicateOrderError:
            outcomes.append("dup")

    threads = [threading.Thread(target=submit) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["dup"] * 7 + ["ok"]


BIG = Path(__file__).resolve().parents[3] / "shared" / "data" / "sp500_daily_2005_2025.csv.gz"


@pytest.mark.skipif(not BIG.exists(), reason="the large S&P 500 file is not in ../shared/data")
def test_big_file_quirks() -> None:
    h = load_bars(BIG)
    assert len(h.symbols) == 502 and len(h) > 2_300_000
    sw = h.series("SW")
    assert sw is not None and sw.dates[0] == "2008-07-25"  # zero-volume filler dropped
    ex = SimulatedExchange(h)
    bars = ex.bars(["HUBB", "GEV"], "2021-05-05", 5)
    assert bars["GEV"] == []  # listed 2024
    hubb = bars["HUBB"][-1]
    assert hubb.date == "2021-05-05" and hubb.low <= hubb.open
    assert len(ex.movers("2021-05-05", 5).gainers) == 5
