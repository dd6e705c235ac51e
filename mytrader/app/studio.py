"""The graph `langgraph dev` serves (see langgraph.json).

A factory, not a module-level graph: settings, broker and models are built when the
server asks for the graph, never at import time. The server brings its own
checkpointer, so the graph is compiled without one.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from langchain_core.runnables import RunnableConfig

from mytrader.app.services import open_services
from mytrader.config import load_settings
from mytrader.graph.builder import GRAPH_NAME, ArenaGraph, build_builder


@asynccontextmanager
async def graph(config: RunnableConfig) -> AsyncIterator[ArenaGraph]:
    # Opening files and clients blocks: keep it off the server's event loop.
    services = await asyncio.to_thread(lambda: open_services(load_settings()))
    try:
        yield build_builder(services).compile(name=GRAPH_NAME)
    finally:
        await asyncio.to_thread(services.close)
