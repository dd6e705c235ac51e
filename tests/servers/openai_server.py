"""A local OpenAI-compatible chat-completions server for tests.

It speaks the real wire protocol, so the real ``openai`` SDK and the real
``langchain_openai.ChatOpenAI`` are exercised over HTTP, without any network use::

    from tests.servers.openai_server import ChatServer, Reply

    with ChatServer() as srv:
        srv.script("x/y", [Reply.text("hello", prompt_tokens=12, completion_tokens=3)])
        llm = ChatOpenAI(model="x/y", base_url=srv.base_url, api_key="sk-test", max_retries=0)
        assert llm.invoke("hi").content == "hello"
        assert srv.requests_for("x/y")[0].headers["authorization"] == "Bearer sk-test"

Routes: ``POST /api/v1/chat/completions`` (OpenRouter layout, ``srv.base_url``) and
``POST /v1/chat/completions`` (OpenAI layout, ``srv.openai_base_url``); ``GET .../models``
lists the scripted model ids. Anything else is a 404 with an OpenAI-style error body.

Scripting: every chat request is answered from the queue of its ``model`` id
(``srv.script(model, [...])``), then from the wildcard queue (``srv.script(ANY_MODEL, [...])``),
then by the default responder (``ChatServer(default=...)`` / ``srv.set_default(...)``).
With no default, an unscripted request gets a 400 (which the openai SDK never retries)
and is listed in ``srv.errors``, so a test cannot silently pass on an unplanned call.
A responder is a :class:`Reply`, a plain ``str`` (= ``Reply.text``), or a callable
``(request_json) -> Reply | str`` that can answer based on the prompt.

Provider quirks (``ChatServer(quirks={...})``), checked before any script is read, so a
refusal consumes no scripted reply: ``"no_temperature"`` answers a request with a
``temperature`` other than 1 with OpenAI's 400 (``Unsupported value: 'temperature' does not
support 0.7 with this model``); ``"no_tools"`` answers a request with ``tools`` with
Ollama's 400 (``registry.ollama.ai/library/<model> does not support tools``);
``"no_cost"`` drops ``usage.cost`` from every answer (every provider but OpenRouter);
``"no_usage"`` drops ``usage`` entirely (some local servers). ``Reply.thinking`` puts the
reasoning in the message's ``reasoning`` or ``reasoning_content`` field.

Only non-streaming completions are supported: a request with ``"stream": true`` gets a 400
(``stream_not_supported``) and is listed in ``srv.errors``. ``ChatOpenAI.invoke`` sends
``"stream": false`` and no ``stream_options`` when ``base_url`` is set (checked against
langchain-openai 1.7.4 in ``tests/integration/test_local_servers.py``).

The server is a stdlib ``ThreadingHTTPServer`` on 127.0.0.1 with a free port; every request
has its own thread, so a delayed reply never blocks other requests. It answers with
HTTP/1.0 semantics (one request per connection), so no idle keep-alive thread outlives
``close()``; delayed replies are interrupted by ``close()``, and ``close()`` joins every
handler thread.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Self
from urllib.parse import urlsplit

from tests.servers._local import Handler, LocalServer, read_body

__all__ = [
    "ANY_MODEL",
    "CHAT_PATHS",
    "ChatServer",
    "RecordedRequest",
    "Reply",
    "Responder",
    "ToolCall",
]

ANY_MODEL = "*"
"""Script key whose queue answers any model after that model's own queue is empty."""

CHAT_PATHS = frozenset({"/api/v1/chat/completions", "/v1/chat/completions"})
MODELS_PATHS = frozenset({"/api/v1/models", "/v1/models"})


@dataclass(frozen=True)
class ToolCall:
    """One tool call in an assistant reply.

    ``arguments`` may be a mapping (JSON-encoded on the wire) or a raw string, which is
    sent verbatim, e.g. to script malformed arguments.
    """

    name: str
    arguments: Mapping[str, Any] | str = field(default_factory=dict)
    id: str | None = None

    def to_wire(self, default_id: str) -> dict[str, Any]:
        args = self.arguments if isinstance(self.arguments, str) else json.dumps(self.arguments)
        return {
            "id": self.id or default_id,
            "type": "function",
            "function": {"name": self.name, "arguments": args},
        }


@dataclass(frozen=True)
class Reply:
    """One scripted answer. Build it with the class methods (``Reply.text(...)`` etc.).

    ``delay`` (seconds) is slept before answering, for timeouts and parallelism checks.
    A ``status`` other than 200 sends an OpenAI-style error body instead of a completion.
    """

    content: str | None = None
    tool_calls: tuple[ToolCall, ...] = ()
    reasoning: str | None = None
    reasoning_field: str = "reasoning"  # or "reasoning_content" (vLLM, DeepSeek)
    finish_reason: str | None = None
    prompt_tokens: int = 10
    completion_tokens: int = 5
    cost: float | None = None
    include_usage: bool = True
    status: int = 200
    error_message: str | None = None
    error_type: str | None = None
    error_code: str | int | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    delay: float = 0.0
    raw_body: bytes | None = None
    content_type: str = "application/json"
    extra: Mapping[str, Any] = field(default_factory=dict)

    # -- successful completions -------------------------------------------------------

    @classmethod
    def text(
        cls,
        content: str,
        *,
        prompt_tokens: int = 10,
        completion_tokens: int = 5,
        cost: float | None = None,
        reasoning: str | None = None,
        finish_reason: str = "stop",
        delay: float = 0.0,
    ) -> Reply:
        """Plain assistant content. ``cost`` is OpenRouter's ``usage.cost`` in dollars."""
        return cls(
            content=content,
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            cost=cost,
            reasoning=reasoning,
            finish_reason=finish_reason,
            delay=delay,
        )

    @classmethod
    def tool_calls_reply(
        cls,
        calls: Iterable[ToolCall],
        *,
        content: str | None = None,
        prompt_tokens: int = 10,
        completion_tokens: int = 5,
        cost: float | None = None,
        delay: float = 0.0,
    ) -> Reply:
        """An assistant message with ``tool_calls`` and ``finish_reason="tool_calls"``."""
        return cls(
            content=content,
            tool_calls=tuple(calls),
            finish_reason="tool_calls",
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            cost=cost,
            delay=delay,
        )

    @classmethod
    def tool_call(
        cls,
        name: str,
        arguments: Mapping[str, Any] | str | None = None,
        *,
        id: str | None = None,
        content: str | None = None,
        prompt_tokens: int = 10,
        completion_tokens: int = 5,
        cost: float | None = None,
        delay: float = 0.0,
    ) -> Reply:
        """A single tool call (shortcut for :meth:`tool_calls_reply`)."""
        call = ToolCall(name=name, arguments={} if arguments is None else arguments, id=id)
        return cls.tool_calls_reply(
            [call],
            content=content,
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            cost=cost,
            delay=delay,
        )

    @classmethod
    def think(cls, thought: str, answer: str, **kwargs: Any) -> Reply:
        """Content with a leading ``<think>…</think>`` block, as some reasoning models emit."""
        return cls.text(f"<think>\n{thought}\n</think>\n{answer}", **kwargs)

    @classmethod
    def thinking(
        cls, reasoning: str, content: str = "", *, field: str = "reasoning", **kwargs: Any
    ) -> Reply:
        """The reasoning in a field of its own (``reasoning``: Ollama, OpenRouter;
        ``reasoning_content``: vLLM, DeepSeek), the content beside it (often empty)."""
        return replace(cls.text(content, **kwargs), reasoning=reasoning, reasoning_field=field)

    @classmethod
    def json(cls, obj: Any, **kwargs: Any) -> Reply:
        """Content that is bare JSON text."""
        return cls.text(json.dumps(obj), **kwargs)

    @classmethod
    def fenced_json(cls, obj: Any, *, lang: str = "json", prose: str = "", **kwargs: Any) -> Reply:
        """Content with JSON inside a Markdown fence, optionally after some prose."""
        lead = f"{prose}\n\n" if prose else ""
        return cls.text(f"{lead}```{lang}\n{json.dumps(obj, indent=2)}\n```", **kwargs)

    @classmethod
    def invalid_json(cls, text: str = '{"action": "buy", "qty": ', **kwargs: Any) -> Reply:
        """Content that looks like JSON but does not parse (truncated by default)."""
        return cls.text(text, **kwargs)

    @classmethod
    def wrong_schema(cls, obj: Any = None, **kwargs: Any) -> Reply:
        """Valid JSON that matches no expected schema (override ``obj`` to taste)."""
        if obj is None:
            obj = {"unexpected": True, "verdict": 42}
        return cls.json(obj, **kwargs)

    # -- failures ---------------------------------------------------------------------

    @classmethod
    def error(
        cls,
        status: int,
        message: str | None = None,
        *,
        type: str | None = None,
        code: str | int | None = None,
        retry_after: float | None = None,
        retry_after_ms: float | None = None,
        headers: Mapping[str, str] | None = None,
        delay: float = 0.0,
    ) -> Reply:
        """An HTTP error with an OpenAI-style ``{"error": {...}}`` body.

        ``retry_after`` sets ``retry-after`` (seconds) and ``retry_after_ms`` sets
        ``retry-after-ms``. The openai SDK honours them only when ``0 < value <= 120``
        (``retry-after-ms`` first); otherwise it backs off ``0.5 * 2**n`` seconds (with
        up to 25% jitter). Use ``retry_after_ms=1`` to keep retry tests fast.
        """
        hdrs = dict(headers or {})
        if retry_after is not None:
            hdrs["retry-after"] = _num(retry_after)
        if retry_after_ms is not None:
            hdrs["retry-after-ms"] = _num(retry_after_ms)
        return cls(
            status=status,
            error_message=message or _DEFAULT_ERROR_MESSAGES.get(status, f"mock error {status}"),
            error_type=type or _DEFAULT_ERROR_TYPES.get(status, "api_error"),
            error_code=code,
            headers=hdrs,
            delay=delay,
        )

    @classmethod
    def rate_limited(
        cls,
        *,
        retry_after: float | None = 0,
        retry_after_ms: float | None = None,
        message: str | None = None,
    ) -> Reply:
        """429 with a ``retry-after`` header (``openai.RateLimitError``)."""
        return cls.error(
            429,
            message,
            code="rate_limit_exceeded",
            retry_after=retry_after,
            retry_after_ms=retry_after_ms,
        )

    @classmethod
    def server_error(cls, status: int = 500, message: str | None = None) -> Reply:
        """A 5xx (``openai.InternalServerError``); 503 is "service unavailable"."""
        return cls.error(status, message)

    @classmethod
    def raw(
        cls,
        body: bytes | str,
        *,
        status: int = 200,
        content_type: str = "application/json",
        headers: Mapping[str, str] | None = None,
        delay: float = 0.0,
    ) -> Reply:
        """A verbatim HTTP body, e.g. an HTML error page or a malformed completion."""
        data = body.encode() if isinstance(body, str) else body
        return cls(
            status=status,
            raw_body=data,
            content_type=content_type,
            headers=dict(headers or {}),
            delay=delay,
        )

    # -- modifiers --------------------------------------------------------------------

    def delayed(self, seconds: float) -> Reply:
        """The same reply, sent after ``seconds``."""
        return replace(self, delay=seconds)

    def with_extra(self, **fields: Any) -> Reply:
        """The same reply with extra top-level response fields (e.g. ``provider="x"``)."""
        return replace(self, extra={**self.extra, **fields})

    # -- wire format ------------------------------------------------------------------

    def render(self, request: Mapping[str, Any], seq: int) -> tuple[int, dict[str, str], bytes]:
        """Status, headers and body for this reply to ``request`` (the n-th, ``seq``)."""
        headers = {"content-type": self.content_type, **self.headers}
        if self.raw_body is not None:
            return self.status, headers, self.raw_body
        if self.status != 200:
            err = {
                "error": {
                    "message": self.error_message,
                    "type": self.error_type,
                    "param": None,
                    "code": self.error_code,
                }
            }
            return self.status, headers, json.dumps(err).encode()
        message: dict[str, Any] = {"role": "assistant", "content": self.content}
        if self.tool_calls:
            message["tool_calls"] = [
                call.to_wire(f"call_{seq}_{i}") for i, call in enumerate(self.tool_calls)
            ]
        if self.reasoning is not None:
            message[self.reasoning_field] = self.reasoning
        finish = self.finish_reason or ("tool_calls" if self.tool_calls else "stop")
        body: dict[str, Any] = {
            "id": f"chatcmpl-mock-{seq}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": str(request.get("model", "")),
            "choices": [
                {"index": 0, "message": message, "finish_reason": finish, "logprobs": None}
            ],
        }
        if self.include_usage:
            usage: dict[str, Any] = {
                "prompt_tokens": self.prompt_tokens,
                "completion_tokens": self.completion_tokens,
                "total_tokens": self.prompt_tokens + self.completion_tokens,
            }
            if self.cost is not None:
                usage["cost"] = self.cost
            body["usage"] = usage
        body.update(self.extra)
        return 200, headers, json.dumps(body).encode()


Responder = Reply | str | Callable[[dict[str, Any]], "Reply | str"]
"""What a script entry or the default may be: a Reply, a text, or ``(request_json) -> Reply``."""

_DEFAULT_ERROR_MESSAGES = {
    400: "Bad request",
    401: "Invalid API key",
    404: "Not found",
    429: "Rate limit exceeded",
    500: "Internal server error",
    502: "Bad gateway",
    503: "Service unavailable",
}
_DEFAULT_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    404: "not_found_error",
    429: "rate_limit_error",
    503: "service_unavailable",
}


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


@dataclass
class RecordedRequest:
    """One request as the server saw it. ``headers`` keys are lower-cased."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any
    raw: bytes
    received_at: float
    """``time.time()`` when the request was read."""
    received_monotonic: float
    """``time.monotonic()`` when the request was read (for overlap/duration checks)."""
    status: int | None = None
    responded_monotonic: float | None = None

    @property
    def model(self) -> str | None:
        if isinstance(self.body, dict):
            model = self.body.get("model")
            return model if isinstance(model, str) else None
        return None

    @property
    def messages(self) -> list[dict[str, Any]]:
        if isinstance(self.body, dict) and isinstance(self.body.get("messages"), list):
            return list(self.body["messages"])
        return []

    @property
    def prompt_text(self) -> str:
        """All message contents joined by newlines (string contents only)."""
        parts = [m.get("content") for m in self.messages]
        return "\n".join(p for p in parts if isinstance(p, str))


class ChatServer(LocalServer):
    """OpenAI-compatible chat-completions server on ``127.0.0.1:<free port>``.

    Use as a context manager (``with ChatServer() as srv: ...``) or call
    :meth:`start` / :meth:`close` yourself. See the module docstring for the behaviour.
    """

    QUIRKS = frozenset({"no_temperature", "no_tools", "no_cost", "no_usage"})

    def __init__(
        self,
        *,
        default: Responder | None = None,
        host: str = "127.0.0.1",
        quirks: Iterable[str] = (),
    ) -> None:
        super().__init__(host)
        self._default = default
        self.quirks = frozenset(quirks)
        unknown = self.quirks - self.QUIRKS
        if unknown:
            raise ValueError(f"unknown quirks {sorted(unknown)}; known: {sorted(self.QUIRKS)}")
        self._lock = threading.Lock()
        self._scripts: dict[str, deque[Responder]] = {}
        self._requests: list[RecordedRequest] = []
        self._errors: list[str] = []
        self._seq = itertools.count(1)
        self._stop = threading.Event()

    def start(self) -> Self:
        self._stop.clear()
        return super().start()

    def close(self) -> None:
        """Stop serving, interrupt delayed replies and join all server threads."""
        self._stop.set()
        super().close()

    @property
    def root_url(self) -> str:
        return f"http://{self._host}:{self.port}"

    @property
    def base_url(self) -> str:
        """OpenRouter-style base URL: ``http://127.0.0.1:PORT/api/v1``."""
        return f"{self.root_url}/api/v1"

    @property
    def openai_base_url(self) -> str:
        """OpenAI-style base URL: ``http://127.0.0.1:PORT/v1``."""
        return f"{self.root_url}/v1"

    # -- scripting --------------------------------------------------------------------

    def script(self, model: str, replies: Iterable[Responder]) -> None:
        """Append ``replies`` to the queue of ``model`` (or of :data:`ANY_MODEL`)."""
        with self._lock:
            self._scripts.setdefault(model, deque()).extend(replies)

    def set_default(self, responder: Responder | None) -> None:
        """Answer requests whose queues are empty; ``None`` makes them a 400."""
        with self._lock:
            self._default = responder

    def pending(self, model: str | None = None) -> int:
        """How many scripted replies are still queued (for ``model`` or in total)."""
        with self._lock:
            if model is not None:
                return len(self._scripts.get(model, ()))
            return sum(len(q) for q in self._scripts.values())

    def assert_exhausted(self) -> None:
        """Fail if any scripted reply was never used or a request went wrong."""
        with self._lock:
            left = {m: len(q) for m, q in self._scripts.items() if q}
            errors = list(self._errors)
        if left or errors:
            raise AssertionError(f"unused scripted replies: {left}; server errors: {errors}")

    def reset(self) -> None:
        """Forget scripts, recorded requests and errors (the default stays)."""
        with self._lock:
            self._scripts.clear()
            self._requests.clear()
            self._errors.clear()

    # -- inspection -------------------------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request received, in arrival order (a copy)."""
        with self._lock:
            return list(self._requests)

    @property
    def chat_requests(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.path in CHAT_PATHS and r.method == "POST"]

    def requests_for(self, model: str) -> list[RecordedRequest]:
        """Chat requests whose body named ``model``."""
        return [r for r in self.chat_requests if r.model == model]

    @property
    def errors(self) -> list[str]:
        """Server-side problems: unscripted requests, unsupported streaming, responder bugs."""
        with self._lock:
            return list(self._errors)

    # -- request handling -------------------------------------------------------------

    def _next_responder(self, model: str) -> Responder | None:
        with self._lock:
            for key in (model, ANY_MODEL):
                queue = self._scripts.get(key)
                if queue:
                    return queue.popleft()
            return self._default

    def _error(self, message: str) -> Reply:
        with self._lock:
            self._errors.append(message)
        return Reply.error(400, message, type="mock_server_error", code="mock_server_error")

    def _resolve(self, body: dict[str, Any]) -> Reply:
        model = str(body.get("model", ""))
        if body.get("stream"):
            return self._error(f"stream_not_supported: model {model!r} asked for stream=true")
        refused = self._refusal(body)
        if refused is not None:
            return refused
        responder = self._next_responder(model)
        if responder is None:
            return self._error(f"no scripted reply for model {model!r}")
        try:
            result = responder(body) if callable(responder) else responder
        except Exception as exc:  # a responder bug must surface in the test, not hang it
            with self._lock:
                self._errors.append(f"responder for {model!r} raised {exc!r}")
            return Reply.error(500, f"responder raised {exc!r}", code="mock_responder_error")
        if isinstance(result, str):
            result = Reply.text(result)
        if not isinstance(result, Reply):
            return self._error(f"responder for {model!r} returned {type(result).__name__}")
        if "no_cost" in self.quirks:
            result = replace(result, cost=None)
        if "no_usage" in self.quirks:
            result = replace(result, include_usage=False)
        return result

    def _refusal(self, body: dict[str, Any]) -> Reply | None:
        """The 400 a provider with this server's quirks answers `body` with (None: none)."""
        model = str(body.get("model", ""))
        temperature = body.get("temperature")
        if "no_temperature" in self.quirks and temperature is not None and temperature != 1:
            return Reply.error(
                400,
                f"Unsupported value: 'temperature' does not support {temperature} with this"
                " model. Only the default (1) value is supported.",
                type="invalid_request_error",
                code="unsupported_value",
            )
        if "no_tools" in self.quirks and body.get("tools"):
            return Reply.error(
                400,
                f"registry.ollama.ai/library/{model} does not support tools",
                type="invalid_request_error",
            )
        return None

    def _handle(self, handler: Handler) -> None:
        received_mono, received_wall = time.monotonic(), time.time()
        raw = read_body(handler)
        path = urlsplit(handler.path).path.rstrip("/") or "/"
        try:
            body: Any = json.loads(raw) if raw else None
        except ValueError:
            body = None
        rec = RecordedRequest(
            method=handler.command,
            path=path,
            headers={k.lower(): v for k, v in handler.headers.items()},
            body=body,
            raw=raw,
            received_at=received_wall,
            received_monotonic=received_mono,
        )
        with self._lock:
            self._requests.append(rec)
            seq = next(self._seq)

        if handler.command == "POST" and path in CHAT_PATHS:
            if not isinstance(body, dict):
                reply = self._error(f"request body is not a JSON object: {raw[:200]!r}")
            else:
                reply = self._resolve(body)
            if reply.delay > 0 and self._stop.wait(reply.delay):
                return  # shutting down: drop the connection without an answer
            status, headers, payload = reply.render(body if isinstance(body, dict) else {}, seq)
        elif handler.command == "GET" and path in MODELS_PATHS:
            with self._lock:
                ids = sorted(m for m in self._scripts if m != ANY_MODEL)
            data = [{"id": m, "object": "model", "owned_by": "mock"} for m in ids]
            status, headers = 200, {"content-type": "application/json"}
            payload = json.dumps({"object": "list", "data": data}).encode()
        else:
            status, headers, payload = Reply.error(
                404, f"no route {handler.command} {path}"
            ).render({}, seq)
        rec.status = status
        rec.responded_monotonic = time.monotonic()
        try:
            handler.send_response(status)
            for name, value in headers.items():
                handler.send_header(name, value)
            handler.send_header("content-length", str(len(payload)))
            handler.end_headers()
            handler.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (e.g. its timeout fired)
