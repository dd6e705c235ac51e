"""Whether the arena's two halves, its tables and its checkpoint, tell the same story.

The tables (`cycles`, one row per recorded cycle, written in the record step's
transaction) say the last cycle recorded; the checkpoint of the arena's thread says the
cycle its state is at and the nodes still to run. They are written one after the other,
never together, so exactly these differences are normal:

- both empty: a fresh arena;
- the tables hold every cycle the checkpoint finished, no more (a pending cycle not
  recorded yet: a crash or a failure anywhere before `record` committed);
- the checkpoint is pending at `record` and the tables already hold that cycle: the
  record step committed, the process died before its checkpoint was written. The resumed
  cycle reruns `record`, which overwrites its own rows (keyed by arena and cycle).

Anything else means one half was lost, emptied, replaced by an older copy or belongs to
another timeline, and a run would build on it: refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

# Nodes at which a pending cycle has not begun: the state still holds the last cycle.
NOT_BEGUN = ("__start__", "screener")


class Mismatch(StrEnum):
    TABLES_EMPTY = "tables empty"  # the checkpoint has finished cycles, the tables none
    CHECKPOINT_EMPTY = "checkpoint empty"  # the tables hold cycles, no checkpoint exists
    TABLES_BEHIND = "tables behind"
    TABLES_AHEAD = "tables ahead"


@dataclass(frozen=True)
class CheckpointAt:
    """Where the checkpoint of an arena's thread stands."""

    exists: bool  # any checkpoint at all for the thread
    cycle: int  # the state's `cycle` (0 before the first)
    next_nodes: tuple[str, ...] = ()  # empty: the last cycle finished

    @property
    def pending(self) -> int | None:
        """The cycle in progress, None when none is."""
        if not self.next_nodes:
            return None
        return pending_cycle(self.cycle, self.next_nodes)

    @property
    def finished(self) -> int:
        """The last cycle the checkpoint has seen to its end (0: none)."""
        pending = self.pending
        return self.cycle if pending is None else pending - 1


def pending_cycle(state_cycle: int, next_nodes: tuple[str, ...]) -> int:
    """The cycle a pending checkpoint is in: the screener starts a cycle by counting it."""
    begun = any(n not in NOT_BEGUN for n in next_nodes)
    return state_cycle if begun else state_cycle + 1


def mismatch(checkpoint: CheckpointAt, tables_last: int | None) -> Mismatch | None:
    """What is wrong between the halves, None when a run may go on (see module)."""
    recorded = tables_last or 0
    allowed = {checkpoint.finished}
    if "record" in checkpoint.next_nodes and checkpoint.pending is not None:
        allowed.add(checkpoint.pending)  # recorded, then killed before the checkpoint
    if recorded in allowed:
        return None
    if not checkpoint.exists:
        return Mismatch.CHECKPOINT_EMPTY
    if tables_last is None:
        return Mismatch.TABLES_EMPTY
    return Mismatch.TABLES_BEHIND if recorded < min(allowed) else Mismatch.TABLES_AHEAD
