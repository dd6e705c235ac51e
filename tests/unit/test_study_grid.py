"""A study's grid: windows x variants -> runs with stable ids, and the bad grids refused."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from pydantic import ValidationError

from mytrader.domain import study_grid as sg

KNOWN = {"vote_mode", "critique_interval", "blind", "models"}


def weekdays(start: date, end: date) -> list[date]:
    days = (end - start).days + 1
    out = [start + timedelta(days=i) for i in range(days)]
    return [d for d in out if d.weekday() < 5]


DATES = weekdays(date(2020, 3, 2), date(2022, 6, 30))


def w(start: str, end: str) -> sg.Window:
    return sg.Window(start=date.fromisoformat(start), end=date.fromisoformat(end))


def grid(windows: object, variants: list[dict[str, object]] | None = None) -> sg.StudyGrid:
    variants = variants or [{"name": "base"}, {"name": "blind", "overrides": {"blind": True}}]
    return sg.StudyGrid.model_validate({"study_id": "s1", "windows": windows, "variants": variants})


def test_yearly_windows_are_each_years_first_to_last_trading_date() -> None:
    found = sg.yearly_windows(DATES)
    assert [x.label for x in found] == [
        "2020-03-02..2020-12-31",
        "2021-01-01..2021-12-31",
        "2022-01-03..2022-06-30",
    ]
    # A stub year under min_days is left out.
    assert [x.start.year for x in sg.yearly_windows(DATES, min_days=200)] == [2020, 2021]
    with pytest.raises(sg.StudyGridError, match="no calendar year"):
        sg.yearly_windows(DATES, min_days=300)


def test_rolling_windows_are_back_to_back_and_drop_a_short_tail() -> None:
    dates = DATES[:25]
    found = sg.rolling_windows(list(reversed(dates)) + dates[:3], days=10)  # order, duplicates
    assert [(x.start, x.end) for x in found] == [
        (dates[0], dates[9]),
        (dates[10], dates[19]),
    ]
    sg.check_windows(found, dates)  # no overlap
    with pytest.raises(sg.StudyGridError, match="fewer than one 30-day window"):
        sg.rolling_windows(dates, days=30)
    with pytest.raises(sg.StudyGridError, match="at least 1"):
        sg.rolling_windows(dates, days=0)


def test_plan_is_windows_in_time_order_times_variants_with_stable_ids() -> None:
    g = grid([w("2021-01-04", "2021-06-30"), w("2020-06-01", "2020-12-31")])
    runs = sg.plan(g, DATES, KNOWN)
    assert [(r.window.start.year, r.variant.name) for r in runs] == [
        (2020, "base"),
        (2020, "blind"),
        (2021, "base"),
        (2021, "blind"),
    ]
    ids = [r.run_id for r in runs]
    assert len(set(ids)) == 4
    for run_id in ids:  # a valid arena id: 1-24 letters, digits or '_'
        assert re.fullmatch(r"st_[0-9a-f]{16}", run_id) and len(run_id) <= 24
    # Stable: the same study gives the same ids, another study id other ids.
    assert [r.run_id for r in sg.plan(g, DATES, KNOWN)] == ids
    other = sg.StudyGrid(study_id="s2", windows=g.windows, variants=g.variants)
    assert not set(ids) & {r.run_id for r in sg.plan(other, DATES, KNOWN)}
    assert runs[0].run_id == sg.run_id("s1", w("2020-06-01", "2020-12-31"), "base")
    assert all(r.study_id == "s1" for r in runs)


def test_the_fingerprint_but_not_the_run_id_follows_the_overrides() -> None:
    windows = [w("2020-06-01", "2020-12-31")]
    a = sg.plan(grid(windows, [{"name": "v", "overrides": {"blind": True}}]), DATES, KNOWN)
    b = sg.plan(grid(windows, [{"name": "v", "overrides": {"blind": False}}]), DATES, KNOWN)
    assert a[0].run_id == b[0].run_id
    assert a[0].fingerprint != b[0].fingerprint


def test_yearly_and_rolling_specs_resolve_over_the_data() -> None:
    assert len(sg.plan(grid("yearly"), DATES, KNOWN)) == 6
    assert len(sg.plan(grid({"kind": "yearly", "min_days": 200}), DATES, KNOWN)) == 4
    rolling = sg.plan(grid({"kind": "rolling", "days": 100}), DATES, KNOWN)
    assert len(rolling) == 2 * (len(DATES) // 100)


@pytest.mark.parametrize(
    ("windows", "message"),
    [
        ([], "no windows"),
        ([w("2020-06-01", "2020-12-31"), w("2020-12-31", "2021-03-31")], "overlap"),
        ([w("2021-01-04", "2021-03-31"), w("2021-02-01", "2021-02-28")], "overlap"),
        ([w("2021-01-04", "2021-03-31"), w("2021-01-04", "2021-03-31")], "overlap"),
    ],
)
def test_empty_or_overlapping_windows_are_refused(windows: object, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        grid(windows)
    with pytest.raises(sg.StudyGridError, match=message):
        sg.check_windows(windows)  # type: ignore[arg-type]


def test_adjacent_windows_are_fine() -> None:
    sg.check_windows([w("2020-06-01", "2020-12-31"), w("2021-01-01", "2021-06-30")], DATES)


@pytest.mark.parametrize(
    ("window", "message"),
    [
        (w("2020-01-02", "2020-06-30"), "outside the data's dates \\(2020-03-02 .. 2022-06-30\\)"),
        (w("2022-06-01", "2022-07-31"), "outside the data's dates"),
        (w("2021-01-02", "2021-01-03"), "holds no trading date"),  # a weekend
    ],
)
def test_a_window_outside_the_data_is_refused(window: sg.Window, message: str) -> None:
    with pytest.raises(sg.StudyGridError, match=message):
        sg.plan(grid([window]), DATES, KNOWN)


def test_a_window_that_ends_before_it_starts_is_refused() -> None:
    with pytest.raises(ValidationError, match="ends before it starts"):
        w("2021-02-01", "2021-01-01")


@pytest.mark.parametrize(
    ("variants", "message"),
    [
        ([{"name": "a"}, {"name": "b"}, {"name": "a"}], "'a' is used twice"),
        ([{"name": "Fast"}, {"name": "fast"}], "'fast' is used twice \\(as 'Fast'\\)"),
    ],
)
def test_duplicate_variant_names_are_refused(
    variants: list[dict[str, object]], message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        grid("yearly", variants)


def test_no_variants_and_bad_names_are_refused() -> None:
    with pytest.raises(ValidationError, match="no variants"):
        sg.StudyGrid(study_id="s1", windows=sg.Yearly(), variants=[])
    for name in ("", "a b", "../x", "-x", "x" * 41):
        with pytest.raises(ValidationError, match="name"):
            sg.Variant(name=name)
    for study_id in ("", "a/b", "a b"):
        with pytest.raises(ValidationError, match="study_id"):
            sg.StudyGrid(study_id=study_id, windows=sg.Yearly(), variants=[sg.Variant(name="a")])


def test_an_unknown_setting_in_a_variant_is_refused_with_a_hint() -> None:
    g = grid("yearly", [{"name": "v", "overrides": {"critique_intervall": 5}}])
    with pytest.raises(
        sg.StudyGridError,
        match="variant 'v': 'critique_intervall' is not a setting "
        "\\(did you mean 'critique_interval'\\?\\)",
    ):
        sg.plan(g, DATES, KNOWN)
    g = grid("yearly", [{"name": "v", "overrides": {"zzz": 1}}])
    with pytest.raises(sg.StudyGridError, match="'zzz' is not a setting$"):
        sg.plan(g, DATES, KNOWN)


def test_no_dates_is_refused() -> None:
    with pytest.raises(sg.StudyGridError, match="no trading dates"):
        sg.plan(grid("yearly"), [], KNOWN)


def test_override_values_keep_their_types() -> None:
    v = sg.Variant(name="v", overrides={"blind": True, "critique_interval": 5, "models": "x"})
    assert v.overrides == {"blind": True, "critique_interval": 5, "models": "x"}
    assert type(v.overrides["blind"]) is bool and type(v.overrides["critique_interval"]) is int
