"""Every use of LangGraph internals, in one place (tests/unit/test_langgraph_compat.py
fails loudly when a release moves one of them).

- CONFIG_KEY_RUNNER_SUBMIT: the runner's submit hook in a run's configurable (a private
  constant), through which the arena runs house-model turns inline (graph/inline.py).
- checkpoint_values: the channel values of a stored checkpoint, read without compiling a
  graph (app/status.py).
- keep_latest: pruning InMemorySaver's storage, which has no prune of its own
  (the backtest).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from langgraph.checkpoint.base import CheckpointTuple
from langgraph.checkpoint.memory import InMemorySaver

try:  # a private module: the hook's name is also spelled out below for a later release
    from langgraph._internal._constants import CONFIG_KEY_RUNNER_SUBMIT
except ImportError:  # pragma: no cover - depends on the installed LangGraph
    CONFIG_KEY_RUNNER_SUBMIT = "__pregel_runner_submit"

__all__ = ["CONFIG_KEY_RUNNER_SUBMIT", "checkpoint_values", "keep_latest"]


def checkpoint_values(found: CheckpointTuple | None) -> dict[str, Any]:
    """The state's values in a stored checkpoint ({} when there is none)."""
    if found is None:
        return {}
    values: Mapping[str, Any] = found.checkpoint["channel_values"]
    return dict(values)


def keep_latest(saver: InMemorySaver, thread_id: str) -> None:
    """Drop all but the latest checkpoint of each namespace of the thread, with its pending
    writes and the channel values it points to: the next cycle reads only that one, and
    20 years of daily checkpoints would otherwise stay in memory (InMemorySaver has no
    prune of its own). Called between cycles, when nothing else touches the saver."""
    kept: dict[str, str] = {}
    for ns, checkpoints in saver.storage[thread_id].items():
        if not checkpoints:
            continue
        latest = max(checkpoints)  # checkpoint ids are time-ordered (uuid6)
        for cid in [c for c in checkpoints if c != latest]:
            del checkpoints[cid]
        kept[ns] = latest
        versions = saver.serde.loads_typed(checkpoints[latest][0])["channel_versions"]
        stale = [
            k
            for k in saver.blobs
            if k[0] == thread_id and k[1] == ns and versions.get(k[2]) != k[3]
        ]
        for key in stale:
            del saver.blobs[key]
    old = [w for w in saver.writes if w[0] == thread_id and kept.get(w[1]) != w[2]]
    for write_key in old:
        del saver.writes[write_key]
