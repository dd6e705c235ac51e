"""Which differences between the tables and the checkpoint a run may go on from."""

from __future__ import annotations

import pytest

from mytrader.domain.halves import CheckpointAt, Mismatch, mismatch, pending_cycle

NONE = CheckpointAt(exists=False, cycle=0)
AT_61 = CheckpointAt(exists=True, cycle=61)


@pytest.mark.parametrize(
    ("checkpoint", "tables_last"),
    [
        (NONE, None),  # a fresh arena
        (AT_61, 61),  # in step
        (CheckpointAt(True, 0, ("__start__",)), None),  # first cycle, killed at its start
        (CheckpointAt(True, 60, ("screener",)), 60),  # cycle 61 failed in the screener
        (CheckpointAt(True, 61, ("executor",)), 60),  # killed mid-executor
        (CheckpointAt(True, 61, ("agent", "agent")), 60),  # killed among the agents
        (CheckpointAt(True, 61, ("record",)), 60),  # killed before the record committed
        (CheckpointAt(True, 61, ("record",)), 61),  # committed, killed before the checkpoint
        (CheckpointAt(True, 1, ("record",)), 1),  # the same on the first cycle
    ],
)
def test_normal_differences_resume(checkpoint: CheckpointAt, tables_last: int | None) -> None:
    assert mismatch(checkpoint, tables_last) is None


@pytest.mark.parametrize(
    ("checkpoint", "tables_last", "expected"),
    [
        (AT_61, None, Mismatch.TABLES_EMPTY),  # arena.sqlite emptied
        (CheckpointAt(True, 61, ("executor",)), None, Mismatch.TABLES_EMPTY),
        (NONE, 61, Mismatch.CHECKPOINT_EMPTY),  # checkpoints.sqlite deleted
        (AT_61, 40, Mismatch.TABLES_BEHIND),  # an older arena.sqlite
        (AT_61, 60, Mismatch.TABLES_BEHIND),  # lost the last record's commit
        (CheckpointAt(True, 61, ("executor",)), 59, Mismatch.TABLES_BEHIND),
        (AT_61, 62, Mismatch.TABLES_AHEAD),  # an older checkpoints.sqlite
        (CheckpointAt(True, 61, ("executor",)), 61, Mismatch.TABLES_AHEAD),  # only record may
        (CheckpointAt(True, 61, ("record",)), 62, Mismatch.TABLES_AHEAD),
        (CheckpointAt(True, 0, ("__start__",)), 5, Mismatch.TABLES_AHEAD),
    ],
)
def test_other_differences_are_refused(
    checkpoint: CheckpointAt, tables_last: int | None, expected: Mismatch
) -> None:
    assert mismatch(checkpoint, tables_last) is expected


def test_a_cycle_begins_when_the_screener_has_counted_it() -> None:
    assert pending_cycle(60, ("screener",)) == 61
    assert pending_cycle(60, ("__start__",)) == 61
    assert pending_cycle(61, ("vote",)) == 61
    assert CheckpointAt(True, 61, ("record",)).finished == 60
    assert CheckpointAt(True, 61).finished == 61
