"""The reconcile compare of open orders: the broker's against the trades table's and the
state's, named by client order id (a pure rule: plain values in, text out)."""

from __future__ import annotations

from mytrader.domain.open_orders import Views, compare_open_orders


def views(**kw: object) -> Views:
    base: dict[str, object] = {
        "broker_open": {},
        "broker_other": {},
        "table": {},
        "state_open": set(),
        "cycles": {},
        "last_recorded": 5,
    }
    return Views(**(base | kw))  # type: ignore[arg-type]


def test_equal_views_are_clean_and_listed() -> None:
    report = compare_open_orders(
        views(
            broker_open={"a-3-g-p-X-s": "pending"},
            table={"a-3-g-p-X-s": "pending"},
            state_open={"a-3-g-p-X-s"},
        )
    )
    assert report.clean and [r.client_order_id for r in report.rows] == ["a-3-g-p-X-s"]


def test_a_row_still_pending_for_an_order_the_broker_canceled_is_a_difference() -> None:
    # What the tables held before rows followed their orders to the end.
    report = compare_open_orders(
        views(broker_other={"a-2-d-p-PFE-s": "canceled"}, table={"a-2-d-p-PFE-s": "pending"})
    )
    assert report.differences == (
        "a-2-d-p-PFE-s: canceled at the broker, but the trades table says pending; "
        "the state does not",
    )


def test_an_open_order_the_tables_do_not_call_open_is_a_difference() -> None:
    report = compare_open_orders(
        views(broker_open={"a-4-g-d-X-b": "pending"}, table={"a-4-g-d-X-b": "canceled"})
    )
    assert report.differences == (
        "a-4-g-d-X-b: open at the broker (pending), the trades table says canceled; "
        "the arena's state does not hold it open",
    )
    unknown = compare_open_orders(views(broker_open={"x-1-g-d-X-b": "pending"}))
    assert "the trades table has no such order" in unknown.differences[0]


def test_an_order_the_broker_does_not_know_is_a_difference() -> None:
    report = compare_open_orders(
        views(
            broker_other={"a-4-g-d-X-b": ""},
            table={"a-4-g-d-X-b": "pending"},
            state_open={"a-4-g-d-X-b"},
        )
    )
    assert report.differences == (
        "a-4-g-d-X-b: the arena calls it open, the broker does not know it",
    )


def test_closed_since_the_cycle_and_not_yet_recorded_are_notes() -> None:
    report = compare_open_orders(
        views(
            broker_open={"a-6-g-d-X-b": "pending"},
            broker_other={"a-5-g-p-Y-s": "filled"},
            table={"a-5-g-p-Y-s": "pending"},
            state_open={"a-5-g-p-Y-s"},
            cycles={"a-6-g-d-X-b": 6, "a-5-g-p-Y-s": 5},
        )
    )
    assert report.clean
    assert report.notes == (
        "a-5-g-p-Y-s: filled at the broker since the last cycle (the next cycle books it)",
        "a-6-g-d-X-b: placed by cycle 6, not recorded yet",
    )


def test_without_the_state_only_the_table_is_compared() -> None:
    report = compare_open_orders(
        views(
            broker_open={"a-3-g-p-X-s": "pending"},
            table={"a-3-g-p-X-s": "pending"},
            state_open=None,
        )
    )
    assert report.clean and report.rows[0].state == "n/a"
