"""Running a superstep's parallel branches one after another, in the calling thread.

LangGraph runs the tasks of a step (the personas' turns) on a thread pool, which pays off
while they wait on models over HTTP. House models never wait: they are pure Python, so
three threads only take turns at the GIL and hand the work back and forth, a fifth of an
offline cycle. For such runs the Arena gives LangGraph this submit function through its
runner's hook (`CONFIG_KEY_RUNNER_SUBMIT`): each task runs at once, in order, and its
future is done when LangGraph looks at it. The result is the same, since LangGraph applies
a step's writes in task order, whatever order the tasks finish in (a backtest test runs
both ways and compares every row). Should a LangGraph release drop the hook, the key is
ignored and the tasks run on threads again: slower, not different.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future
from contextvars import copy_context
from typing import Any

from mytrader.graph.compat import CONFIG_KEY_RUNNER_SUBMIT

__all__ = ["CONFIG_KEY_RUNNER_SUBMIT", "inline_submit", "submit_inline"]


def submit_inline(
    fn: Callable[..., Any],
    *args: Any,
    __name__: str | None = None,
    __cancel_on_exit__: bool = False,
    __reraise_on_exit__: bool = True,
    __next_tick__: bool = False,
    **kwargs: Any,
) -> Future[Any]:
    """LangGraph's Submit signature; runs `fn` now. The `__*__` flags steer a thread
    pool's shutdown, which has nothing to do here. A node's exception goes in the
    future, where LangGraph looks for it; Ctrl-C (not an Exception) stops the run."""
    done: Future[Any] = Future()
    try:
        done.set_result(copy_context().run(fn, *args, **kwargs))
    except Exception as exc:
        done.set_exception(exc)
    return done


def inline_submit() -> Callable[..., Future[Any]]:
    """What the hook holds: LangGraph calls it (as it would a weak method) for the submit."""
    return submit_inline
