"""A persona's model on any OpenAI-compatible provider (OpenRouter, a local Ollama, vLLM or
LM Studio, a vendor's own API), with each provider's known quirks handled where they arise:

- a 400 refusing `temperature` ("Unsupported value: 'temperature' does not support 0.7 with
  this model", OpenAI's reasoning models): the call is sent again once without it, and the
  model is remembered, so its next calls go without one from the start;
- a 400 refusing tools ("registry.ollama.ai/library/X does not support tools", Ollama): the
  call is sent again without them, with a line telling the model to answer from the facts
  of its prompt; remembered the same way;
- the answer's reasoning in a `reasoning` / `reasoning_content` field (Ollama, vLLM,
  DeepSeek): kept in `additional_kwargs["reasoning_content"]`, never in the content the
  decision is parsed from;
- no dollar cost in the usage (every provider but OpenRouter): the per-provider price table,
  when one is given, prices the tokens; otherwise the cost stays absent (recorded as 0).

What the model "remembers" is per provider URL and model id, for the life of the process.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import BaseMessage, HumanMessage
from langchain_core.outputs import ChatResult
from langchain_openai import ChatOpenAI
from pydantic import SecretStr

log = logging.getLogger(__name__)

TEMPERATURE, TOOLS = "temperature", "tools"
_REFUSES_TOOLS = re.compile(r"does not support tools|tools? (?:are|is) not supported", re.I)
_REFUSES_TEMPERATURE = re.compile(
    r"temperature.{0,80}(?:unsupported|not supported|does not support)"
    r"|(?:unsupported|not supported).{0,40}temperature",
    re.I | re.S,
)
TOOLESS_NOTE = (
    "(Tools are not available with this model: answer from the facts in this conversation.)"
)
_REASONING_FIELDS = ("reasoning_content", "reasoning")
_MILLION = Decimal(1_000_000)

# (base URL, model) -> the quirks learnt from its refusals
_LEARNT: dict[tuple[str, str], set[str]] = {}
_LEARNT_LOCK = threading.Lock()


def learnt(base_url: str, model: str) -> frozenset[str]:
    with _LEARNT_LOCK:
        return frozenset(_LEARNT.get((base_url, model), ()))


def _learn(base_url: str, model: str, quirk: str) -> None:
    with _LEARNT_LOCK:
        _LEARNT.setdefault((base_url, model), set()).add(quirk)


def refusal(exc: Exception) -> str | None:
    """Which of our parameters a provider's 400 refuses (None: another error)."""
    import openai

    if not isinstance(exc, openai.BadRequestError):
        return None
    body = exc.body if isinstance(exc.body, dict) else {}
    param = str(body.get("param") or "")
    message = str(body.get("message") or exc.message or "")
    if _REFUSES_TOOLS.search(message):
        return TOOLS
    if param == TEMPERATURE or _REFUSES_TEMPERATURE.search(message):
        return TEMPERATURE
    return None


def _without_tools(kwargs: dict[str, Any]) -> dict[str, Any]:
    return {
        k: v for k, v in kwargs.items() if k not in ("tools", "tool_choice", "parallel_tool_calls")
    }


class ProviderChat(ChatOpenAI):
    """ChatOpenAI with the providers' quirks handled (see the module's docstring)."""

    provider: str = "openrouter"
    reports_cost: bool = True
    # Dollars per million tokens (input, output), for a provider that reports no cost.
    prices: tuple[Decimal, Decimal] | None = None

    @property
    def _key(self) -> tuple[str, str]:
        return (str(self.openai_api_base or ""), str(self.model_name))

    @property
    def _default_params(self) -> dict[str, Any]:
        params = dict(super()._default_params)
        if TEMPERATURE in learnt(*self._key):
            params.pop(TEMPERATURE, None)
        return params

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        tried: set[str] = set()
        while True:
            if TOOLS in learnt(*self._key) and kwargs.get("tools"):
                kwargs = _without_tools(kwargs)
                messages = [*messages, HumanMessage(TOOLESS_NOTE)]
            try:
                result = super()._generate(messages, stop, run_manager, **kwargs)
            except Exception as exc:
                quirk = refusal(exc)
                sent = kwargs.get("tools") if quirk == TOOLS else self._sends_temperature
                if quirk is None or quirk in tried or not sent:
                    raise
                tried.add(quirk)
                _learn(*self._key, quirk)
                log.warning(
                    "%s refuses %s for model %s: sent again without, and from now on",
                    self.provider,
                    quirk,
                    self.model_name,
                )
                continue
            return self._priced(result)

    @property
    def _sends_temperature(self) -> bool:
        return self._default_params.get(TEMPERATURE) is not None

    def _create_chat_result(
        self, response: dict[str, Any] | Any, generation_info: dict[str, Any] | None = None
    ) -> ChatResult:
        result = super()._create_chat_result(response, generation_info)
        raw = response if isinstance(response, dict) else _dump(response)
        choices = raw.get("choices") or []
        for generation, choice in zip(result.generations, choices, strict=False):
            wire = (choice or {}).get("message") or {}
            for name in _REASONING_FIELDS:
                value = wire.get(name)
                if isinstance(value, str) and value.strip():
                    generation.message.additional_kwargs["reasoning_content"] = value
                    break
        return result

    def _priced(self, result: ChatResult) -> ChatResult:
        """The dollar cost of a provider that reports none, from its price table."""
        if self.prices is None:
            return result
        price_in, price_out = self.prices
        for generation in result.generations:
            message = generation.message
            meta = getattr(message, "usage_metadata", None)
            if not meta:
                continue  # no usage: the cost is unknown too
            token_usage = message.response_metadata.setdefault("token_usage", {})
            if token_usage.get("cost") is not None and self.reports_cost:
                continue
            cost = (
                Decimal(int(meta.get("input_tokens", 0))) * price_in
                + Decimal(int(meta.get("output_tokens", 0))) * price_out
            ) / _MILLION
            token_usage["cost"] = str(cost)
        return result


def _dump(response: Any) -> dict[str, Any]:
    try:
        dumped = response.model_dump()
    except Exception:  # not a pydantic object: nothing to read
        return {}
    return dumped if isinstance(dumped, dict) else {}


def provider_model(
    *,
    provider: str,
    model: str,
    base_url: str,
    api_key: SecretStr | None,
    temperature: float,
    timeout_s: float,
    max_retries: int,
    json_mode: bool,
    headers: Mapping[str, str] = {},
    reports_cost: bool = True,
    prices: tuple[Decimal, Decimal] | None = None,
    secrets: Sequence[str] = (),
) -> BaseChatModel:
    """The chat model of one persona on `provider`; its key (and `secrets`, e.g. credential
    headers) scrubbed from transport errors. A local server without a key gets a
    placeholder (the SDK insists on one; Ollama, vLLM and LM Studio ignore it)."""
    from openai import DefaultHttpxClient

    from mytrader.adapters.llm.scrubbed_http import ScrubbedErrors

    key = api_key or SecretStr("no-key")
    hidden = [api_key.get_secret_value()] if api_key else []
    return ProviderChat(
        provider=provider,
        reports_cost=reports_cost,
        prices=prices,
        model=model,
        base_url=base_url,
        api_key=key,
        temperature=temperature,
        timeout=timeout_s,
        max_retries=max_retries,
        default_headers=dict(headers),
        http_client=DefaultHttpxClient(transport=ScrubbedErrors([*hidden, *secrets])),
        # JSON mode goes in extra_body: as `response_format` proper, langchain-openai would
        # switch to the SDK's parse() path, which refuses non-strict tools.
        extra_body=({"response_format": {"type": "json_object"}} if json_mode else None),
    )
