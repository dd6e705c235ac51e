"""When a cycle keeps failing: say what failed, and end it without losing a recorded trade.

A cycle that raises leaves its checkpoint pending, and the next `mytrader run` resumes
it. A transient failure (a dropped connection) heals that way; a failure that repeats (a
row the database refuses, a bug in a node) would fail every run the same way. So the
runner records each failure (node, error with secrets removed, how many times in a row)
in `cycle_failures` and raises CycleFailed, whose message names the node and the way on:

    mytrader repair --yes

ends the pending cycle as the graph would have, without rerunning the failing node:

- failed at `record`: the executor has already placed the cycle's orders at the broker
  and written the resulting books (and pending orders) into the state. The repair runs
  the record step's own code with a store that writes row by row: every row the database
  accepts is written, every row it refuses is kept as JSON in `cycle_failures.unrecorded`
  with the reason. The state update (books, spend) is applied with
  `graph.update_state(..., as_node="record")`, so the books the executor produced and the
  orders already at the broker carry on into the next cycle: no order is forgotten, none
  is placed twice.
- failed before the executor (screener output exists, no order placed yet): the cycle
  ends without trading; its snapshots, logs and LLM usage are recorded the same way.
- failed in the executor: refused. Some of the cycle's orders may be at the broker and
  only the executor knows them (it adopts them when rerun); skipping it would leave them
  out of the books. Fix the cause, run again.
- failed in the screener: nothing of the cycle exists yet; fix the cause (usually the
  market data) and run again.

With no cycle pending, one case is repaired: the tables lack only the checkpoint's last
finished cycle (mytrader/app/halves.py), e.g. a power cut after the checkpoint's write and
before the record's commit reached the disk. The state still holds that cycle's rows
(orders, bookings, logs, usage, books), so the record step's code writes them again; the
state is not updated (its books were marked and its spend counted the first time).
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field, SecretStr

from mytrader.adapters.store.db import ArenaStore, mask_url, url_passwords
from mytrader.app.halves import repairable
from mytrader.config import Settings
from mytrader.domain.records import CycleRecord
from mytrader.domain.text import scrub_secrets as scrub
from mytrader.graph.context import arena_key
from mytrader.graph.nodes.record import record_cycle

if TYPE_CHECKING:
    from mytrader.app.runner import Arena

log = logging.getLogger(__name__)

ERROR_CHARS = 2000  # enough for a driver's message; a traceback is in the logs
# Nodes whose failure the repair cannot skip, and why.
NOT_SKIPPABLE = {
    "executor": (
        "the executor may already have placed some of this cycle's orders at the broker, and "
        "only a rerun of the executor adopts them into the books; fix the cause and run again"
    ),
    "screener": (
        "nothing of this cycle exists yet (the screener builds it); fix the cause, usually "
        "the market data, and run again"
    ),
}


# Secrets the settings do not hold, read from the environment by the libraries themselves.
_ENV_SECRETS = ("LANGSMITH_API_KEY", "LANGCHAIN_API_KEY")


def secret_values(settings: Settings) -> tuple[str, ...]:
    """Every secret the arena knows: each SecretStr setting (API keys, tokens), the
    database URL's password (the URL itself is shown masked), the providers' keys and
    credential headers (PROVIDER_<NAME>_API_KEY, _HEADERS), the tracing key."""
    found: list[str] = []
    for name in type(settings).model_fields:
        value = getattr(settings, name, None)
        if not isinstance(value, SecretStr) or not value.get_secret_value():
            continue
        if name == "database_url":
            found += url_passwords(value.get_secret_value())
        else:
            found.append(value.get_secret_value())
    for provider in settings.provider_names:  # their keys and credential headers
        found += settings.provider(provider).secrets
    found += [os.environ[n] for n in _ENV_SECRETS if os.environ.get(n)]
    return tuple(found)


def scrub_secrets(text: str, settings: Settings) -> str:
    """`text` with every secret of the settings removed (API keys, database password)."""
    url = settings.postgres_url
    if url:
        text = text.replace(url, mask_url(url))
    return scrub(text, secret_values(settings))


class CycleFailed(RuntimeError):
    """A cycle raised; its failure is recorded. The message says what to do."""

    def __init__(
        self,
        arena: str,
        cycle: int,
        node: str,
        error: str,
        count: int | None,
        *,
        lost: bool = False,  # the database is unreachable: nothing to repair, wait for it
    ) -> None:
        self.arena, self.cycle, self.node, self.error, self.count = arena, cycle, node, error, count
        self.lost = lost
        times = "" if count is None else f" ({count} time{'s' if count != 1 else ''} in a row)"
        how = NOT_SKIPPABLE.get(node)
        if lost:
            way_on = (
                "The database is unreachable: bring it back (or correct DATABASE_URL) and run "
                "again; DATABASE_TIMEOUT_S bounds each wait (README: Damaged or lost databases)."
            )
        elif how:
            way_on = f"`mytrader repair` cannot skip it: {how}."
        else:
            way_on = (
                f"`mytrader repair --yes` ends cycle {cycle} keeping the orders already placed "
                "and the books (README: When a cycle keeps failing)."
            )
        super().__init__(
            f"cycle {cycle} of arena '{arena}' failed at node '{node}'{times}: {error}\n"
            f"The next `mytrader run` resumes cycle {cycle} from its checkpoint; if the cause "
            f"repeats it fails the same way. {way_on}"
        )


class RepairReport(BaseModel):
    cycle: int
    node: str
    done: bool
    message: str
    recorded: int = 0  # rows written by the repair
    unrecorded: list[dict[str, Any]] = Field(default_factory=list)  # rows the database refused


class SalvagingStore:
    """The arena's store, except that `record_cycle` falls back to writing one row at a
    time, keeping what the database refuses (with the reason) instead of raising."""

    def __init__(self, store: ArenaStore) -> None:
        self._store = store
        self.recorded = 0
        self.unrecorded: list[dict[str, Any]] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    def record_cycle(self, rec: CycleRecord) -> None:
        empty: dict[str, list[Any]] = {
            "trades": [],
            "settled": [],
            "logs": [],
            "snapshots": [],
            "usage": [],
        }
        parts: list[tuple[str, CycleRecord]] = [("cycle", rec.model_copy(update=empty))]
        parts += [("trade", rec.model_copy(update={**empty, "trades": [t]})) for t in rec.trades]
        parts += [
            ("settled", rec.model_copy(update={**empty, "settled": [o]})) for o in rec.settled
        ]
        # Logs together: their sequence numbers are counted within the cycle's list.
        if rec.logs:
            parts.append(("logs", rec.model_copy(update={**empty, "logs": rec.logs})))
        parts += [
            ("snapshot", rec.model_copy(update={**empty, "snapshots": [s]})) for s in rec.snapshots
        ]
        parts += [("usage", rec.model_copy(update={**empty, "usage": [u]})) for u in rec.usage]
        for kind, part in parts:
            try:
                self._store.record_cycle(part)
                self.recorded += 1
            except Exception as exc:  # keep going: every other row still gets written
                rows = part.model_dump(mode="json", exclude={"arena", "cycle", "as_of"})
                self.unrecorded.append(
                    {"kind": kind, "error": f"{type(exc).__name__}: {exc}", "rows": rows}
                )


def lost_record(arena: Arena) -> str | None:
    """What `repair` would record again (the tables lost the checkpoint's last finished
    cycle, mytrader/app/halves.py), None when that is not the case."""
    from mytrader.app.halves import HalvesDisagree

    try:
        arena.check_halves()
    except HalvesDisagree as disagree:
        if repairable(disagree.kind, disagree.recorded, disagree.at):
            return (
                f"the tables lack cycle {disagree.at.finished}, the checkpoint's last finished "
                "cycle: its rows are still in the checkpoint's state"
            )
    return None


def to_repair(arena: Arena) -> str | None:
    """What `mytrader repair` would do, for the operator to confirm; None: nothing."""
    return arena.pending_failure() or lost_record(arena)


def _record(arena: Arena, salvage: SalvagingStore, values: dict[str, Any]) -> dict[str, Any]:
    """The record step's own code on `values`, writing through `salvage`."""
    services = replace(arena.services, store=salvage)  # type: ignore[arg-type]
    key = arena_key(arena.config, services.context.arena_id)
    return record_cycle(services, services.context, key, values)  # type: ignore[arg-type]


def _record_again(arena: Arena, values: dict[str, Any]) -> RepairReport:
    """Write the checkpoint's last finished cycle into the tables again (they lost it):
    the record step's own code on the state it left, with no state update (the books
    were marked and the spend counted when it ran the first time)."""
    cycle = int(values.get("cycle") or 0)
    if lost_record(arena) is None:
        return RepairReport(
            cycle=cycle, node="", done=False, message="nothing to repair: no cycle is pending"
        )
    salvage = SalvagingStore(arena.services.store)
    _record(arena, salvage, values)
    message = f"cycle {cycle} recorded again from the checkpoint: {salvage.recorded} record(s)"
    if salvage.unrecorded:
        message += f", {len(salvage.unrecorded)} refused: " + "; ".join(
            f"{u['kind']}: {u['error'][:200]}" for u in salvage.unrecorded
        )
    settings = arena.services.settings
    return RepairReport(
        cycle=cycle,
        node="record",
        done=not salvage.unrecorded,
        message=scrub_secrets(message, settings),
        recorded=salvage.recorded,
        unrecorded=salvage.unrecorded,
    )


def repair(arena: Arena) -> RepairReport:
    """End the pending cycle of `arena` as described in the module docstring."""
    settings = arena.services.settings
    state = arena.graph.get_state(arena.config)
    values: dict[str, Any] = dict(state.values)
    cycle = int(values.get("cycle") or 0)
    if not state.next:
        return _record_again(arena, values)
    node = str(state.next[0])
    key = arena_key(arena.config, settings.arena_id)
    if node in NOT_SKIPPABLE or node in ("__start__",) or values.get("status") != "trading":
        why = NOT_SKIPPABLE.get(node, NOT_SKIPPABLE["screener"])
        return RepairReport(
            cycle=cycle, node=node, done=False, message=f"cycle {cycle} stops at {node}: {why}"
        )
    salvage = SalvagingStore(arena.services.store)
    if node != "record":
        # No order was placed: the cycle ends without trading (the executor's legs unused).
        values = {**values, "orders": [], "vote": None}
    update = _record(arena, salvage, values)
    arena.graph.update_state(arena.config, update, as_node="record")
    how = f"ended at {node} by `mytrader repair`"
    unrecorded = (
        scrub_secrets(json.dumps(salvage.unrecorded), settings) if salvage.unrecorded else None
    )
    try:
        arena.services.store.mark_repaired(key, cycle, how, unrecorded)
    except Exception:  # the repair itself is done; the note is a courtesy
        log.warning("could not note the repair of cycle %s", cycle, exc_info=True)
    skipped = "" if node == "record" else " without trading (no order had been placed)"
    message = f"cycle {cycle} ended{skipped}: {salvage.recorded} record(s) written"
    if salvage.unrecorded:
        message += (
            f", {len(salvage.unrecorded)} refused by the database and kept in "
            f"cycle_failures.unrecorded: "
            + "; ".join(f"{u['kind']}: {u['error'][:200]}" for u in salvage.unrecorded)
        )
    return RepairReport(
        cycle=cycle,
        node=node,
        done=True,
        message=scrub_secrets(message, settings),
        recorded=salvage.recorded,
        unrecorded=salvage.unrecorded,
    )
