"""Before a run's first cycle: do the arena's tables and its checkpoint agree?

The rule (which differences are normal) is `mytrader.domain.halves`; this module reads
both halves through their public APIs (`ArenaStore.last_cycle`, the graph's `get_state`)
and says what is wrong, naming the files (or the masked database URL) and the way on.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mytrader.adapters.store.checkpointer import checkpoints_location
from mytrader.adapters.store.errors import StoreError, mapped
from mytrader.app.storage import store_config
from mytrader.domain.halves import CheckpointAt, Mismatch, mismatch

if TYPE_CHECKING:
    from mytrader.app.runner import Arena


class HalvesDisagree(StoreError):
    """The arena's tables and checkpoint disagree: a run would build on a lost half."""

    def __init__(self, message: str, kind: Mismatch, recorded: int | None, at: CheckpointAt):
        super().__init__(message)
        self.kind, self.recorded, self.at = kind, recorded, at


def checkpoint_at(arena: Arena) -> CheckpointAt:
    """Where the arena's checkpoint stands (its latest state, through `get_state`)."""
    settings = arena.services.settings
    with mapped(checkpoints_location(store_config(settings)), settings.postgres_url):
        snapshot = arena.graph.get_state(arena.config)
    return CheckpointAt(
        exists=snapshot.created_at is not None,
        cycle=int(snapshot.values.get("cycle") or 0),
        next_nodes=tuple(snapshot.next),
    )


def check_halves(arena: Arena) -> CheckpointAt:
    """Where the checkpoint stands; HalvesDisagree when a run must not go on from there
    (domain/halves.py says when)."""
    at = checkpoint_at(arena)
    recorded = arena.services.store.last_cycle(arena.key)
    kind = mismatch(at, recorded)
    if kind is not None:
        raise HalvesDisagree(_message(arena, kind, recorded, at), kind, recorded, at)
    return at


def _message(arena: Arena, kind: Mismatch, recorded: int | None, at: CheckpointAt) -> str:
    settings = arena.services.settings
    done = at.finished
    tables = f"last cycle recorded {recorded}" if recorded else "no cycle recorded"
    if not at.exists:
        state = "no checkpoint"
    elif at.pending is not None:
        state = f"finished cycle {done}, cycle {at.pending} pending at {','.join(at.next_nodes)}"
    else:
        state = f"finished cycle {done}"
    risk = {
        Mismatch.TABLES_EMPTY: f"go on at cycle {done + 1} over an empty history",
        Mismatch.CHECKPOINT_EMPTY: "start over at cycle 1 and overwrite the recorded cycles",
        Mismatch.TABLES_BEHIND: "go on without the records of "
        + _cycles((recorded or 0) + 1, done),
        Mismatch.TABLES_AHEAD: f"run {_cycles(done + 1, recorded or 0)} again over their records",
    }[kind]
    way_on = [
        "restore the missing or older half from a backup (or point MYTRADER_HOME / "
        "DATABASE_URL back at it)",
        f"or `mytrader reset --yes` to forget arena '{settings.arena_id}' and start over",
    ]
    if repairable(kind, recorded, at):
        way_on.insert(
            1, f"or `mytrader repair --yes` to record cycle {done} again from the checkpoint"
        )
    return (
        f"arena '{settings.arena_id}': its tables and its checkpoint disagree ({kind}).\n"
        f"  tables       {arena.services.store.location}: {tables}\n"
        f"  checkpoints  {checkpoints_location(store_config(settings))}: {state}\n"
        f"A run would {risk}, so it is refused. The way on: {'; '.join(way_on)} "
        "(README: Damaged or lost databases)."
    )


def _cycles(first: int, last: int) -> str:
    return f"cycle {first}" if first == last else f"cycles {first}-{last}"


def repairable(kind: Mismatch, recorded: int | None, at: CheckpointAt) -> bool:
    """The tables lost only the checkpoint's last finished cycle (e.g. a power cut after
    the checkpoint's write, before the record's commit reached the disk): the state
    still holds that cycle's rows, so `mytrader repair` can write them again."""
    return (
        kind in (Mismatch.TABLES_BEHIND, Mismatch.TABLES_EMPTY)
        and at.pending is None
        and (recorded or 0) == at.finished - 1
    )
