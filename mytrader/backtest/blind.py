"""Blind mode: a model never sees a real ticker, company name or calendar date.

A real LLM has read the history it is backtested on; shown `MRNA` and `2020-03-16` it can
remember what came next. Blind mode puts one boundary between the arena and every model:
`BlindModel` wraps a chat model and rewrites each outgoing message (system, prompt, tool
results, the model's own earlier turns and tool calls) and translates each answer (its
text and tool-call arguments) back. So prompts, tools, news and the graph need no change,
and the books, the tables and the report keep the real names.

- Tickers become stable pseudonyms that keep the sector the personas reason about:
  `BIO_3` is a biotech, `TEC_12` a tech stock. The numbering within a sector follows a
  hash of the symbol, not its alphabetical order. One-letter tickers (`A`, `L`) are
  replaced where they stand as a value (`"A"`), since in prose they are words.
- ISO dates (and timestamps) become trading-day numbers of the data's calendar: `D1234`
  (a non-trading date: the trading day before it).

Prices are not disguised: a model could still recognise a price path it memorised.
"""

from __future__ import annotations

import bisect
import hashlib
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.runnables import Runnable
from pydantic import ConfigDict

from mytrader.adapters.bars import PriceHistory
from mytrader.domain.sectors import name_of, sector_of

_SALT = "mytrader-blind-v1"
_DATE = re.compile(
    r"(?<!\d)(\d{4}-\d{2}-\d{2})"  # the date, then an optional time of day and zone
    r"(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?(?!\d)"
)
_DAY = re.compile(r"\bD(\d{1,6})\b")


def _prefix(sector: str) -> str:
    return (sector[:3] or "oth").upper()


@dataclass(frozen=True)
class Blindfold:
    """The two-way translation of one run: real <-> pseudonym, date <-> day number."""

    aliases: Mapping[str, str]  # ticker -> pseudonym
    calendar: tuple[str, ...]
    names: Mapping[str, str]  # company name -> pseudonym

    @classmethod
    def of(cls, history: PriceHistory) -> Blindfold:
        return cls.for_symbols(history.symbols, history.calendar)

    @classmethod
    def for_symbols(cls, symbols: Iterable[str], calendar: tuple[str, ...]) -> Blindfold:
        by_sector: dict[str, list[str]] = {}
        for sym in symbols:
            by_sector.setdefault(sector_of(sym), []).append(sym)
        aliases: dict[str, str] = {}
        for sector, syms in sorted(by_sector.items()):
            ranked = sorted(syms, key=lambda s: hashlib.sha256(f"{_SALT}:{s}".encode()).digest())
            for n, sym in enumerate(ranked, 1):
                aliases[sym] = f"{_prefix(sector)}_{n}"
        names = {name_of(s): a for s, a in aliases.items() if name_of(s)}
        return cls(aliases=aliases, calendar=tuple(calendar), names=names)

    def __post_init__(self) -> None:
        multi = sorted((s for s in self.aliases if len(s) > 1), key=lambda s: (-len(s), s))
        single = sorted(s for s in self.aliases if len(s) == 1)
        names = sorted(self.names, key=lambda s: (-len(s), s))
        reverse = {a: s for s, a in self.aliases.items()}
        object.__setattr__(self, "_reverse", reverse)
        object.__setattr__(
            self,
            "_tickers",
            re.compile(r"(?<![\w\-])(" + "|".join(map(re.escape, multi)) + r")(?![\w\-])")
            if multi
            else None,
        )
        object.__setattr__(
            self,
            "_singles",
            re.compile(r'"(' + "|".join(map(re.escape, single)) + r')"') if single else None,
        )
        object.__setattr__(
            self,
            "_names",
            re.compile("|".join(map(re.escape, names))) if names else None,
        )
        object.__setattr__(
            self,
            "_back",
            re.compile(
                r"\b(" + "|".join(map(re.escape, sorted(reverse, key=len, reverse=True))) + r")\b"
            )
            if reverse
            else None,
        )

    # --- text ---------------------------------------------------------------------------

    def day_number(self, iso: str) -> int:
        return bisect.bisect_right(self.calendar, iso[:10]) - 1

    def hide(self, text: str) -> str:
        text = _DATE.sub(lambda m: f"D{self.day_number(m[1])}", text)
        names: re.Pattern[str] | None = getattr(self, "_names")  # noqa: B009
        if names is not None:
            text = names.sub(lambda m: self.names[m[0]], text)
        tickers: re.Pattern[str] | None = getattr(self, "_tickers")  # noqa: B009
        if tickers is not None:
            text = tickers.sub(lambda m: self.aliases[m[1]], text)
        singles: re.Pattern[str] | None = getattr(self, "_singles")  # noqa: B009
        if singles is not None:
            text = singles.sub(lambda m: f'"{self.aliases[m[1]]}"', text)
        return text

    def reveal(self, text: str) -> str:
        back: re.Pattern[str] | None = getattr(self, "_back")  # noqa: B009
        reverse: dict[str, str] = getattr(self, "_reverse")  # noqa: B009
        if back is not None:
            text = back.sub(lambda m: reverse[m[1]], text)

        def date(m: re.Match[str]) -> str:
            n = int(m[1])
            return self.calendar[n] if 0 <= n < len(self.calendar) else m[0]

        return _DAY.sub(date, text)

    # --- messages -----------------------------------------------------------------------

    def hide_message(self, message: BaseMessage) -> BaseMessage:
        return _rewrite(message, self.hide)

    def reveal_message(self, message: BaseMessage) -> BaseMessage:
        return _rewrite(message, self.reveal)


def _deep(value: Any, fn: Callable[[str], str]) -> Any:
    if isinstance(value, str):
        return fn(value)
    if isinstance(value, dict):
        return {k: _deep(v, fn) for k, v in value.items()}
    if isinstance(value, list):
        return [_deep(v, fn) for v in value]
    return value


def _rewrite(message: BaseMessage, fn: Callable[[str], str]) -> BaseMessage:
    update: dict[str, Any] = {
        "content": _deep(message.content, fn),
        "additional_kwargs": _deep(message.additional_kwargs, fn),
    }
    if isinstance(message, AIMessage):
        update["tool_calls"] = [{**c, "args": _deep(c["args"], fn)} for c in message.tool_calls]
        update["invalid_tool_calls"] = [
            {**c, "args": _deep(c.get("args"), fn)} for c in message.invalid_tool_calls
        ]
    return message.model_copy(update=update)


class BlindModel(BaseChatModel):
    """A chat model seen through the blindfold: hides on the way out, reveals on the way in."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    inner: BaseChatModel
    fold: Blindfold

    @property
    def _llm_type(self) -> str:
        return f"blind-{self.inner._llm_type}"

    def bind_tools(self, tools: Any, **kwargs: Any) -> Runnable[LanguageModelInput, AIMessage]:
        # The inner model formats the tools (its API's schema); the call still comes here.
        bound: Any = self.inner.bind_tools(tools, **kwargs)
        return self.bind(**_deep(dict(bound.kwargs), self.fold.hide))

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        hidden = [self.fold.hide_message(m) for m in messages]
        # No config: the inner call inherits the ambient run (the agent's), so a trace
        # shows the real model's call with what it was really sent.
        answer = self.inner.invoke(hidden, stop=stop, **kwargs)
        revealed = self.fold.reveal_message(answer)
        assert isinstance(revealed, AIMessage)
        return ChatResult(generations=[ChatGeneration(message=revealed)])


def blind_models(models: Mapping[str, BaseChatModel], fold: Blindfold) -> dict[str, BaseChatModel]:
    return {p: BlindModel(inner=m, fold=fold) for p, m in models.items()}
