"""`repair` by failing node, in-process (the failing node is patched into the graph):
before the executor the cycle ends without trading; the executor is never skipped."""

from __future__ import annotations

from typing import Any

import pytest

from mytrader.app.repair import CycleFailed, repair
from mytrader.app.runner import open_arena
from mytrader.config import Settings
from mytrader.graph import builder


def _failing(message: str) -> Any:
    def make(services: Any) -> Any:
        def node(state: Any) -> dict[str, Any]:
            raise RuntimeError(message)

        return node

    return make


def test_failure_before_the_executor_ends_the_cycle_without_trading(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    with open_arena(settings) as arena:
        assert arena.run_cycle().cycle == 1
    monkeypatch.setattr(builder, "make_vote", _failing("vote broke"))
    with open_arena(settings) as arena:
        for count in (1, 2):
            with pytest.raises(RuntimeError, match="vote broke"):  # the node's own error
                arena.run_cycle()
            failed = arena.last_failure
            assert isinstance(failed, CycleFailed)
            assert (failed.cycle, failed.node, failed.count) == (2, "vote", count)
            assert "vote broke" in str(failed)
        report = repair(arena)
        assert report.done and report.node == "vote" and not report.unrecorded
        assert "without trading" in report.message
        assert not arena.graph.get_state(arena.config).next
        assert arena.services.store.last_cycle(settings.arena_id) == 2
        snaps = [s for s in arena.services.store.snapshots(settings.arena_id) if s.cycle == 2]
        assert len(snaps) == 4
    monkeypatch.undo()
    with open_arena(settings) as arena:
        assert arena.run_cycle().cycle == 3


def test_executor_failure_is_not_skipped(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(builder, "make_executor", _failing("executor broke"))
    with open_arena(settings) as arena:
        with pytest.raises(RuntimeError, match="executor broke"):
            arena.run_cycle()
        failed = arena.last_failure
        assert failed is not None and failed.node == "executor"
        assert "cannot skip it" in str(failed)
        report = repair(arena)
        assert not report.done and "only a rerun of the executor" in report.message
        assert arena.graph.get_state(arena.config).next == ("executor",)
