"""The dashboard's query parameters: one parser for every number, name and cursor.

Digits are ASCII only (`'²'.isdigit()` is true, `int('²')` fails), every number is bounded
by what SQLite's and PostgreSQL's 64-bit integers hold and by its parameter's sensible
range, texts are short and printable, and a bad value is a 422 whose message names the
parameter: never a 500 from deep inside a query.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from typing import Annotated, TypeVar

from fastapi import Path, Query
from fastapi.exceptions import RequestValidationError
from pydantic import BeforeValidator

from mytrader.adapters.store.reads import MAX_PAGE

# The largest value a BIGINT (PostgreSQL) or INTEGER (SQLite) column holds.
INT64_MAX = 2**63 - 1
# At most 19 ASCII digits: anything longer is beyond INT64_MAX anyway, and `int()` of a
# 5,000-digit text is never attempted.
_DIGITS = re.compile(r"[0-9]{1,19}")
# Arena, account, agent, kind and status names are far shorter.
TEXT_MAX = 100

K = TypeVar("K")


class ParamError(ValueError):
    """A parameter's value is out of its shape or range; the text says what is expected."""


def whole(value: object, lo: int, hi: int) -> int:
    """A whole number in [lo, hi], from ASCII digits (or an int default)."""
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str) and _DIGITS.fullmatch(value):
        number = int(value)
    else:
        number = None
    if number is None or not lo <= number <= hi:
        raise ParamError(f"expected a whole number from {lo} to {hi} (digits 0-9)")
    return number


def text(value: object) -> str:
    """A short name: 1 to TEXT_MAX printable characters (no control or format character,
    which no arena, agent or status holds)."""
    if (
        not isinstance(value, str)
        or not 1 <= len(value) <= TEXT_MAX
        or any(unicodedata.category(c) in ("Cc", "Cf", "Cs", "Zl", "Zp") for c in value)
    ):
        raise ParamError(f"expected 1 to {TEXT_MAX} printable characters")
    return value


def optional_text(value: object) -> str | None:
    """`text`, or None for an empty value (`?arena=` means the default, as if absent)."""
    return None if value in ("", None) else text(value)


def _between(lo: int, hi: int) -> Callable[[object], int]:
    return lambda value: whole(value, lo, hi)


Limit = Annotated[
    int, BeforeValidator(_between(1, MAX_PAGE)), Query(description=f"Items, 1 to {MAX_PAGE}.")
]
Offset = Annotated[int, BeforeValidator(_between(0, INT64_MAX)), Query(description="Skip these.")]
Points = Annotated[
    int, BeforeValidator(_between(2, 5000)), Query(description="Cycles kept, 2 to 5000.")
]
Recent = Annotated[
    int, BeforeValidator(_between(0, 50)), Query(description="Last cycles, 0 to 50.")
]
After = Annotated[
    int, BeforeValidator(_between(0, INT64_MAX)), Query(description="A cycle number.")
]
RowId = Annotated[int, BeforeValidator(_between(1, INT64_MAX)), Path(description="A row's id.")]
Name = Annotated[str | None, BeforeValidator(optional_text), Query(description="A name.")]
Arena = Annotated[
    str | None,
    BeforeValidator(optional_text),
    Query(description="The arena id; default: the served ARENA_ID."),
]


def _invalid(name: str, problem: str) -> RequestValidationError:
    """The error FastAPI raises for a bad parameter, so every 422 reads the same."""
    return RequestValidationError([{"type": "value_error", "loc": ("query", name), "msg": problem}])


def _cursor(value: str, shape: str, key: Callable[[str], K]) -> tuple[int, K]:
    """`<cycle>:<key>`, each part parsed by the rules above."""
    cycle, sep, rest = value.partition(":")
    try:
        if sep:
            return whole(cycle, 0, INT64_MAX), key(rest)
    except ParamError:
        pass
    raise _invalid("before", f"expected a page's `next`, `{shape}`")


def row_cursor(
    before: Annotated[str | None, Query(description="A page's `next`: `<cycle>:<id>`.")] = None,
) -> tuple[int, int] | None:
    """The `before` of a (cycle, id)-ordered list."""
    if not before:  # `?before=`: the first page
        return None
    return _cursor(before, "<cycle>:<id>", lambda rest: whole(rest, 0, INT64_MAX))


def agent_cursor(
    before: Annotated[str | None, Query(description="A page's `next`: `<cycle>:<agent>`.")] = None,
) -> tuple[int, str] | None:
    """The `before` of the (cycle, agent)-ordered usage list."""
    if not before:
        return None
    return _cursor(before, "<cycle>:<agent>", text)


def messages(errors: object) -> str:
    """FastAPI's validation errors as one line naming each parameter (the value itself is
    left out: it may be 5,000 digits, or text meant to fool a reader)."""
    lines = []
    for error in errors if isinstance(errors, list | tuple) else []:
        loc = error.get("loc") or ("request",)
        problem = str(error.get("msg", "invalid")).removeprefix("Value error, ")
        lines.append(f"{loc[-1]}: {problem}")
    return "; ".join(lines) or "invalid request"
