"""A local server speaking the X API v2 recent-search shape (`GET /2/tweets/search/recent`).

It answers like X: `data` (posts with `created_at`, `author_id`, `public_metrics`),
`includes.users` for the `author_id` expansion, `meta.result_count`; `end_time` and
`max_results` are honoured (unless `honour_end_time` is off, to play a leaky server);
a wrong bearer token gets X's 401 problem JSON; `rate_limited()` makes the next answer
a 429 with the `x-rate-limit-*` headers X sends.
"""

from __future__ import annotations

import json
import threading
import zlib
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.servers._local import LocalServer

SEARCH_PATH = "/2/tweets/search/recent"


@dataclass
class Post:
    id: str
    text: str
    created_at: str  # RFC 3339, e.g. 2026-03-02T15:04:05.000Z
    username: str
    likes: int = 0
    reposts: int = 0
    replies: int = 0
    quotes: int = 0

    def author_id(self) -> str:
        return str(zlib.crc32(self.username.encode()))


@dataclass
class Seen:
    path: str
    params: dict[str, str]
    authorization: str


@dataclass
class XServer(LocalServer):
    token: str = "x-test-token"
    posts: list[Post] = field(default_factory=list)
    honour_end_time: bool = True
    requests: list[Seen] = field(default_factory=list)
    _next_status: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        super().__init__()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def rate_limited(self, reset_epoch: int) -> None:
        """The next request gets a 429, with X's rate-limit headers."""
        headers = {
            "x-rate-limit-limit": "60",
            "x-rate-limit-remaining": "0",
            "x-rate-limit-reset": str(reset_epoch),
        }
        with self._lock:
            self._next_status.append((429, headers))

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        url = urlsplit(handler.path)
        params = {k: v[0] for k, v in parse_qs(url.query).items()}
        auth = handler.headers.get("authorization", "")
        with self._lock:
            self.requests.append(Seen(url.path, params, auth))
            forced = self._next_status.pop(0) if self._next_status else None
        if url.path != SEARCH_PATH:
            return _send(handler, 404, {"title": "Not Found Error", "status": 404})
        if auth != f"Bearer {self.token}":
            return _send(
                handler,
                401,
                {
                    "title": "Unauthorized",
                    "type": "about:blank",
                    "status": 401,
                    "detail": "Unauthorized",
                },
            )
        if forced is not None:
            status, headers = forced
            body = {
                "title": "Too Many Requests",
                "detail": "Too Many Requests",
                "type": "about:blank",
                "status": 429,
            }
            return _send(handler, status, body, headers)
        return _send(handler, 200, self._search(params))

    def _search(self, params: dict[str, str]) -> dict[str, Any]:
        words = [w.lower() for w in params.get("query", "").split() if w.isalnum() or w[0] == "$"]
        end = params.get("end_time")
        until = datetime.fromisoformat(end.replace("Z", "+00:00")) if end else None
        limit = int(params.get("max_results", "10"))
        hits = [
            p
            for p in self.posts
            if any(w in p.text.lower() for w in words)
            and (not self.honour_end_time or until is None or _at(p.created_at) <= until)
        ]
        hits.sort(key=lambda p: _at(p.created_at), reverse=True)
        hits = hits[:limit]
        if not hits:
            return {"meta": {"result_count": 0}}
        users = {p.author_id(): p.username for p in hits}
        return {
            "data": [
                {
                    "id": p.id,
                    "text": p.text,
                    "author_id": p.author_id(),
                    "created_at": p.created_at,
                    "edit_history_tweet_ids": [p.id],
                    "public_metrics": {
                        "retweet_count": p.reposts,
                        "reply_count": p.replies,
                        "like_count": p.likes,
                        "quote_count": p.quotes,
                        "bookmark_count": 0,
                        "impression_count": 100,
                    },
                }
                for p in hits
            ],
            "includes": {
                "users": [{"id": i, "name": u.title(), "username": u} for i, u in users.items()]
            },
            "meta": {
                "newest_id": hits[0].id,
                "oldest_id": hits[-1].id,
                "result_count": len(hits),
            },
        }


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _send(
    handler: BaseHTTPRequestHandler,
    status: int,
    body: dict[str, Any],
    headers: dict[str, str] | None = None,
) -> None:
    data = json.dumps(body).encode()
    handler.send_response(status)
    handler.send_header("content-type", "application/json; charset=utf-8")
    handler.send_header("content-length", str(len(data)))
    for name, value in (headers or {}).items():
        handler.send_header(name, value)
    handler.end_headers()
    handler.wfile.write(data)
