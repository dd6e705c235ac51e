"""MyTrader: an arena of LLM traders on LangGraph."""

__version__ = "0.1.0"
