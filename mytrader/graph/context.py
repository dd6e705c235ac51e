"""What the nodes are given: settings, broker, one chat model per persona, the store.

Built by the caller (the CLI, a test, or the Studio factory in app.py) and handed to the
graph builder, so no node builds a client or reads a global.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from langchain_core.language_models import BaseChatModel
from langchain_core.runnables import RunnableConfig

from mytrader.config import Settings
from mytrader.ports.broker import Broker
from mytrader.tools import ToolFactory

if TYPE_CHECKING:
    from mytrader.adapters.store.db import ArenaStore


@dataclass
class ArenaServices:
    settings: Settings
    broker: Broker
    models: Mapping[str, BaseChatModel]  # persona -> chat model
    store: ArenaStore
    model_ids: Mapping[str, str] = field(default_factory=dict)  # persona -> id shown in logs
    tools: ToolFactory | None = None  # None: agents decide from the prompt alone
    # The settings' secret values (mytrader.app.repair.secret_values): masked in every text a
    # node keeps from outside (a provider's error may echo its key).
    secrets: tuple[str, ...] = ()

    def close(self) -> None:
        self.store.close()


def arena_key(config: RunnableConfig | Mapping[str, Any] | None, default: str) -> str:
    """A short, stable name of the arena (the thread) for order ids and table rows.

    The CLI's thread id is the arena id itself; Studio's thread ids are UUIDs, shortened
    so client order ids stay within Alpaca's safe 48 characters.
    """
    thread = ((config or {}).get("configurable") or {}).get("thread_id") or default
    thread = str(thread)
    if len(thread) <= 24 and thread.replace("_", "").isalnum():
        return thread
    return "t" + hashlib.sha1(thread.encode()).hexdigest()[:12]
