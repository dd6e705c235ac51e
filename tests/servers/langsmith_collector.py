"""A local LangSmith-compatible trace collector for tests.

The real ``langsmith.Client`` talks to it over HTTP, so tracing can be checked offline::

    import langsmith
    from tests.servers.langsmith_collector import TraceCollector

    with TraceCollector() as col:
        client = langsmith.Client(api_url=col.url, api_key="ls-test")
        with langsmith.tracing_context(enabled=True, client=client, project_name="t"):
            my_traceable_fn()
        client.flush()
        root = col.one("my_traceable_fn")
        assert [r["name"] for r in col.children(root)] == ["child"]
        assert not col.contains("sk-secret")
        client.close()

Routes (anything else is recorded and answered 404):

- ``GET /info``: see :func:`info_payload`. By default it selects multipart ingestion without
  compression (``instance_flags`` has no ``zstd_compression_enabled``). langsmith 0.14.17 reads
  ``batch_ingest_config`` (``use_multipart_endpoint``, ``size_limit``, ``size_limit_bytes``,
  ``scale_up_qsize_trigger``, ``scale_up_nthreads_limit``, ``scale_down_nempty_trigger``) and
  ``instance_flags.zstd_compression_enabled``; a missing ``batch_ingest_config`` means defaults.
- ``POST /runs/multipart``: multipart/form-data, parsed with the stdlib ``email`` parser; the
  body may be ``Content-Encoding: gzip`` or ``zstd``.
- ``POST /runs/batch`` (JSON ``{"post": [...], "patch": [...]}``), ``POST /runs`` (one run) and
  ``PATCH /runs/<id>`` (one update).
- ``POST /v1/metadata/submit`` (sent by ``langgraph dev``): accepted and recorded.

Runs are assembled per id from ``post.<id>`` and ``post.<id>.<field>`` parts, then every
``patch.<id>…`` in arrival order, so the result does not depend on batching. Each run dict has
the run JSON's keys (``id``, ``name``, ``run_type``, ``parent_run_id``, ``trace_id``,
``dotted_order``, ``tags``, ``start_time``, ``end_time``, ``session_name``…) plus ``inputs``,
``outputs``, ``extra``, ``error``, ``events``, ``serialized`` when sent, a convenience
``metadata`` (= ``extra["metadata"]`` or ``{}``) and ``_ops`` (e.g. ``["post", "patch"]``).
The keys in ``_ALWAYS`` (name, run_type, parent_run_id, trace_id, tags, inputs, outputs, error,
start/end time…) are always present: ``None`` when never sent, ``tags`` ``[]``.
"""

from __future__ import annotations

import email.parser
import email.policy
import gzip
import io
import json
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from tests.servers._local import Handler, LocalServer, read_body

__all__ = ["CollectedRequest", "Part", "TraceCollector", "info_payload"]

# keys every assembled run has (None when never sent; ``tags`` defaults to [])
_ALWAYS = (
    "name",
    "run_type",
    "parent_run_id",
    "trace_id",
    "dotted_order",
    "session_name",
    "tags",
    "inputs",
    "outputs",
    "error",
    "extra",
    "start_time",
    "end_time",
)


def info_payload(*, multipart: bool = True, compression: bool = False) -> dict[str, Any]:
    """The ``/info`` JSON. ``compression=True`` makes the client send zstd bodies."""
    flags: dict[str, Any] = {"zstd_compression_enabled": True} if compression else {}
    return {
        "version": "0.0.0-collector",
        "license_expiration_time": None,
        "instance_flags": flags,
        "batch_ingest_config": {
            "use_multipart_endpoint": multipart,
            "size_limit": 100,
            "size_limit_bytes": 20_971_520,
            "scale_up_qsize_trigger": 1000,
            "scale_up_nthreads_limit": 16,
            "scale_down_nempty_trigger": 4,
        },
    }


@dataclass(frozen=True)
class CollectedRequest:
    """One request. ``headers`` keys are lower-cased; ``body`` is decompressed."""

    method: str
    path: str
    headers: dict[str, str]
    raw: bytes
    """The body as received (possibly compressed)."""
    body: bytes
    """The body after undoing ``Content-Encoding``."""
    received_at: float


@dataclass(frozen=True)
class Part:
    """One multipart form part."""

    name: str
    content_type: str
    data: bytes

    def json(self) -> Any:
        return json.loads(self.data)


def _decode_body(raw: bytes, encoding: str) -> bytes:
    data = raw
    for enc in reversed([e.strip().lower() for e in encoding.split(",") if e.strip()]):
        if enc in ("gzip", "x-gzip"):
            data = gzip.decompress(data)
        elif enc == "zstd":
            import zstandard

            reader = zstandard.ZstdDecompressor().stream_reader(
                io.BytesIO(data), read_across_frames=True
            )
            data = reader.read()
        elif enc != "identity":
            raise ValueError(f"unsupported Content-Encoding {enc!r}")
    return data


def parse_multipart(content_type: str, body: bytes) -> list[Part]:
    """Split a multipart/form-data body into parts (stdlib ``email`` parser)."""
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode()
    msg = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
    if not msg.is_multipart():
        raise ValueError(f"not a multipart body: {content_type!r}")
    parts = []
    for sub in msg.iter_parts():
        name = sub.get_param("name", header="content-disposition")
        payload = sub.get_payload(decode=True)
        if not isinstance(name, str) or not isinstance(payload, bytes):
            raise ValueError(f"malformed form part: {sub.items()!r}")
        parts.append(Part(name=name, content_type=sub.get_content_type(), data=payload))
    return parts


def _merge(dst: dict[str, Any], src: Mapping[str, Any]) -> None:
    """Merge a run update: ``extra``/``metadata`` dicts merge, other non-None values replace."""
    for key, value in src.items():
        if value is None and key in dst:
            continue
        old = dst.get(key)
        if key in ("extra", "metadata") and isinstance(old, dict) and isinstance(value, dict):
            merged = dict(old)
            _merge(merged, value)
            dst[key] = merged
        else:
            dst[key] = value


class TraceCollector(LocalServer):
    """LangSmith-compatible collector on ``127.0.0.1:<free port>``; see the module docstring.

    ``multipart=False`` makes the client use ``/runs/batch``; ``compression=True`` makes it
    send zstd-compressed multipart bodies; ``info`` replaces the ``/info`` JSON entirely.
    """

    def __init__(
        self,
        *,
        multipart: bool = True,
        compression: bool = False,
        info: Mapping[str, Any] | None = None,
        host: str = "127.0.0.1",
    ) -> None:
        self.info: dict[str, Any] = (
            dict(info)
            if info is not None
            else info_payload(multipart=multipart, compression=compression)
        )
        super().__init__(host)
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._requests: list[CollectedRequest] = []
        self._parts: list[Part] = []
        # ordered ops: (op, run_id, field or None, value)
        self._ops: list[tuple[str, str, str | None, Any]] = []
        self._errors: list[str] = []

    @property
    def url(self) -> str:
        """Pass as ``Client(api_url=...)`` or ``LANGSMITH_ENDPOINT``."""
        return f"http://{self._host}:{self.port}"

    # -- inspection -------------------------------------------------------------------

    @property
    def requests(self) -> list[CollectedRequest]:
        """Every request (including ``GET /info``), in arrival order."""
        with self._lock:
            return list(self._requests)

    @property
    def errors(self) -> list[str]:
        """Bodies the collector could not parse (each was answered 400)."""
        with self._lock:
            return list(self._errors)

    def parts(self) -> list[Part]:
        """Every multipart form part received, in order."""
        with self._lock:
            return list(self._parts)

    def raw_bodies(self) -> list[bytes]:
        """Every request body, decompressed: scan these for secrets."""
        return [r.body for r in self.requests]

    def contains(self, needle: str | bytes) -> bool:
        """Whether ``needle`` occurs in any (decompressed) body.

        Also tries the JSON-escaped form, so non-ASCII or quoted text is found too.
        Headers are not scanned (``x-api-key`` is expected there).
        """
        if isinstance(needle, str):
            forms = {needle.encode(), json.dumps(needle)[1:-1].encode()}
        else:
            forms = {needle}
        return any(f in body for body in self.raw_bodies() for f in forms)

    def runs(self) -> list[dict[str, Any]]:
        """One merged dict per run id, ordered by ``dotted_order`` (then start time)."""
        with self._lock:
            ops = list(self._ops)
        runs: dict[str, dict[str, Any]] = {}
        # posts first, then patches, each in arrival order: independent of batching
        for wanted in ("post", "patch"):
            for op, run_id, fld, value in ops:
                if op != wanted:
                    continue
                run = runs.setdefault(run_id, {"id": run_id, "_ops": []})
                if fld is None:
                    run["_ops"].append(op)
                    _merge(run, {k: v for k, v in value.items() if k != "_ops"})
                    run["id"] = run_id
                else:
                    _merge(run, {fld: value})
        for run in runs.values():
            for key in _ALWAYS:
                run.setdefault(key, None)
            if run["tags"] is None:
                run["tags"] = []
            extra = run.get("extra")
            meta = extra.get("metadata") if isinstance(extra, dict) else None
            run["metadata"] = dict(meta) if isinstance(meta, dict) else {}
        return sorted(
            runs.values(),
            key=lambda r: (str(r.get("dotted_order") or ""), str(r.get("start_time") or "")),
        )

    def run(self, run_id: str) -> dict[str, Any]:
        for run in self.runs():
            if run["id"] == str(run_id):
                return run
        raise KeyError(run_id)

    def find(self, name: str) -> list[dict[str, Any]]:
        """All runs called ``name``."""
        return [r for r in self.runs() if r.get("name") == name]

    def one(self, name: str) -> dict[str, Any]:
        """The single run called ``name`` (AssertionError if none or several)."""
        found = self.find(name)
        if len(found) != 1:
            names = sorted({str(r.get("name")) for r in self.runs()})
            raise AssertionError(f"expected one run named {name!r}, got {len(found)}; have {names}")
        return found[0]

    def tree(self) -> dict[str | None, list[dict[str, Any]]]:
        """Runs grouped by ``parent_run_id`` (``None`` holds the roots)."""
        tree: dict[str | None, list[dict[str, Any]]] = {}
        for run in self.runs():
            parent = run.get("parent_run_id")
            tree.setdefault(str(parent) if parent else None, []).append(run)
        return tree

    def children(self, run: Mapping[str, Any] | str) -> list[dict[str, Any]]:
        run_id = run if isinstance(run, str) else str(run["id"])
        return self.tree().get(run_id, [])

    def roots(self) -> list[dict[str, Any]]:
        return self.tree().get(None, [])

    def wait_for(
        self,
        predicate: Callable[[list[dict[str, Any]]], bool],
        timeout: float = 5.0,
    ) -> list[dict[str, Any]]:
        """Wait until ``predicate(self.runs())`` holds; return the runs or raise TimeoutError."""
        deadline = time.monotonic() + timeout
        while True:
            runs = self.runs()
            if predicate(runs):
                return runs
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(
                    f"collector condition not met; runs: {[r.get('name') for r in runs]}"
                )
            with self._changed:
                self._changed.wait(min(remaining, 0.1))

    def reset(self) -> None:
        with self._lock:
            self._requests.clear()
            self._parts.clear()
            self._ops.clear()
            self._errors.clear()

    # -- request handling -------------------------------------------------------------

    def _record_ops(self, parts: Iterable[Part]) -> list[tuple[str, str, str | None, Any]]:
        ops: list[tuple[str, str, str | None, Any]] = []
        for part in parts:
            pieces = part.name.split(".")
            if pieces[0] not in ("post", "patch") or len(pieces) not in (2, 3):
                continue  # attachments, feedback…: kept in parts() only
            op, run_id = pieces[0], pieces[1]
            fld = pieces[2] if len(pieces) == 3 else None
            value = part.json()
            if fld is None and not isinstance(value, dict):
                raise ValueError(f"part {part.name!r} is not a JSON object")
            ops.append((op, run_id, fld, value))
        return ops

    def _json_ops(
        self, method: str, path: str, body: Any
    ) -> list[tuple[str, str, str | None, Any]]:
        if path == "/runs/batch":
            items = [("post", r) for r in body.get("post") or []]
            items += [("patch", r) for r in body.get("patch") or []]
        elif method == "POST":
            items = [("post", body)]
        else:
            items = [("patch", {**body, "id": path.rsplit("/", 1)[1]})]
        ops: list[tuple[str, str, str | None, Any]] = []
        for op, run in items:
            if not isinstance(run, dict) or "id" not in run:
                raise ValueError(f"{op} item without an id: {run!r:.200}")
            ops.append((op, str(run["id"]), None, run))
        return ops

    def _handle(self, handler: Handler) -> None:
        raw = read_body(handler)
        path = urlsplit(handler.path).path.rstrip("/") or "/"
        method = handler.command
        headers = {k.lower(): v for k, v in handler.headers.items()}
        status, reply = 200, b"{}"
        try:
            body = _decode_body(raw, headers.get("content-encoding", ""))
        except Exception as exc:
            body = raw
            status, reply = 400, json.dumps({"detail": f"bad body: {exc!r}"}).encode()
        req = CollectedRequest(method, path, headers, raw, body, time.time())
        parts: list[Part] = []
        ops: list[tuple[str, str, str | None, Any]] = []
        if status == 200:
            try:
                if method == "GET" and path == "/info":
                    reply = json.dumps(self.info).encode()
                elif method == "POST" and path == "/runs/multipart":
                    parts = parse_multipart(headers.get("content-type", ""), body)
                    ops = self._record_ops(parts)
                    status = 202
                elif (method == "POST" and path in ("/runs/batch", "/runs")) or (
                    method == "PATCH" and path.startswith("/runs/") and path.count("/") == 2
                ):
                    ops = self._json_ops(method, path, json.loads(body))
                    status = 202
                elif method == "POST" and path == "/v1/metadata/submit":
                    status = 202
                else:
                    status = 404
                    reply = json.dumps({"detail": f"no route {method} {path}"}).encode()
            except Exception as exc:
                status, reply = 400, json.dumps({"detail": f"bad body: {exc!r}"}).encode()
                parts, ops = [], []
        with self._changed:
            self._requests.append(req)
            self._parts.extend(parts)
            self._ops.extend(ops)
            if status == 400:
                self._errors.append(f"{method} {path}: {reply.decode()}")
            self._changed.notify_all()
        try:
            handler.send_response(status)
            handler.send_header("content-type", "application/json")
            handler.send_header("content-length", str(len(reply)))
            handler.end_headers()
            handler.wfile.write(reply)
        except (BrokenPipeError, ConnectionResetError):
            pass
