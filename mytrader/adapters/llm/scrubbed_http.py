"""The HTTP transport of the OpenAI SDK's client (httpx2), with a provider's error replies
scrubbed of secrets before anything reads them."""

from __future__ import annotations

from collections.abc import Sequence

import httpx2

from mytrader.domain.text import scrub_secrets


class ScrubbedErrors(httpx2.BaseTransport):
    """A provider's error reply with the secrets masked before anything reads it: the
    SDK's exception, the trace of the failed call, our logs and rows. (A provider may
    echo the key it was sent: `Incorrect API key provided: sk-or-...`.)"""

    _FRAMING = ("content-length", "content-encoding", "transfer-encoding")

    def __init__(self, secrets: Sequence[str], inner: httpx2.BaseTransport | None = None) -> None:
        self._secrets = tuple(s for s in secrets if s)
        self._inner = inner or httpx2.HTTPTransport()

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        response = self._inner.handle_request(request)
        if response.status_code < 400 or not self._secrets:
            return response
        body = response.read().decode("utf-8", "replace")  # decoded: no content-encoding
        clean = scrub_secrets(body, self._secrets)
        if clean == body:
            return response
        headers = [(k, v) for k, v in response.headers.items() if k.lower() not in self._FRAMING]
        return httpx2.Response(
            response.status_code, headers=headers, content=clean.encode(), request=request
        )

    def close(self) -> None:
        self._inner.close()
