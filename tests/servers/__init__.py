"""Local servers that speak real wire protocols (OpenAI chat completions, LangSmith ingest)."""

from tests.servers.langsmith_collector import TraceCollector
from tests.servers.openai_server import ANY_MODEL, ChatServer, RecordedRequest, Reply, ToolCall

__all__ = ["ANY_MODEL", "ChatServer", "RecordedRequest", "Reply", "ToolCall", "TraceCollector"]
