"""OpenRouter (or any OpenAI-compatible endpoint) through ChatOpenAI, from explicit parameters.

Which persona gets which model, and with which settings, is decided above (`app/models.py`).
"""

from __future__ import annotations

from collections.abc import Mapping

from langchain_core.language_models import BaseChatModel
from pydantic import SecretStr

OPENROUTER_HEADERS = {
    "HTTP-Referer": "https://github.com/mytrader-arena/mytrader",
    "X-Title": "MyTrader",
}


def openrouter_model(
    *,
    model: str,
    base_url: str,
    api_key: SecretStr,
    temperature: float,
    timeout_s: float,
    max_retries: int,
    json_mode: bool,
    headers: Mapping[str, str] = OPENROUTER_HEADERS,
) -> BaseChatModel:
    """ChatOpenAI pointed at `base_url`; the key is scrubbed from transport errors."""
    from langchain_openai import ChatOpenAI  # imported here: offline runs never need it
    from openai import DefaultHttpxClient

    from mytrader.adapters.llm.scrubbed_http import ScrubbedErrors

    key = api_key.get_secret_value()
    return ChatOpenAI(
        model=model,
        base_url=base_url,
        api_key=api_key,
        temperature=temperature,
        timeout=timeout_s,
        max_retries=max_retries,
        default_headers=dict(headers),
        http_client=DefaultHttpxClient(transport=ScrubbedErrors([key])),
        # JSON mode goes in extra_body: as `response_format` proper, langchain-openai would
        # switch to the SDK's parse() path, which refuses non-strict tools.
        extra_body=({"response_format": {"type": "json_object"}} if json_mode else None),
    )
