"""Outside text (model answers, tool results, provider and broker errors, news, posts,
data-file symbols, settings) made safe for the surface it is shown on or kept in.

One function per surface, used everywhere:

- `for_terminal`: text inside Rich markup. Markup is escaped (`[/]` and `[link=...]` are shown, not
  interpreted) and control characters are shown visibly (`visible`).
- `for_log`: plain text lines (the logging output on stderr): controls shown visibly.
- `for_storage`: the database. Escape sequences and control characters are removed
  (newline and tab stay), so every reader (dashboard, `mytrader logs`, a SQL client) gets
  text without them.
- `csv_cell`: one cell of a CSV file we write (OWASP's CSV injection rule).
- `scrub_secrets`: every given secret replaced by `***`; the app passes the settings'
  secret values in (`mytrader.app.repair.secret_values`).

What "control character" means here: C0 (U+0000-001F), DEL and C1 (U+0080-009F), the
bidirectional embeddings, overrides and isolates (U+202A-202E, U+2066-2069) and the line
and paragraph separators (U+2028, U+2029). Every terminal escape sequence (ANSI colours,
`ESC[2J`, OSC 8 hyperlinks) starts with ESC or a C1 character, so showing those visibly
also disarms the whole sequence: what is left after them is plain text.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from decimal import Decimal

from rich.markup import escape

SECRET_MASK = "***"
MIN_SECRET_CHARS = 4

_BIDI = "\u202a-\u202e\u2066-\u2069"
_SEPARATORS = "\u2028\u2029"
# Every character `visible` shows by its code instead of as itself.
_CONTROL = re.compile(f"[\x00-\x1f\x7f-\x9f{_BIDI}{_SEPARATORS}]")
# ECMA-48 sequences: CSI (ESC [ or U+009B) ... final byte; OSC/DCS/APC/PM/SOS (ESC ] P _ ^ X,
# or their C1 forms) ... BEL or ST; any other two-character ESC sequence.
_SEQUENCE = re.compile(
    r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]?"
    r"|(?:\x1b[\]P_^X]|[\x9d\x90\x9f\x9e\x98])[^\x00-\x1f\x7f-\x9f]*(?:\x07|\x1b\\|\x9c)?"
    r"|\x1b[ -/]*[0-~]?"
)
# A backslash before a `[` that does not open a Rich tag (the pattern of rich.markup).
_PLAIN_BRACKET = re.compile(r"\\(?=\[(?![a-z#/@][^[]*?\]))")
# The first characters that make a spreadsheet read a cell as a formula (OWASP).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _code(char: str) -> str:
    point = ord(char)
    return f"\\x{point:02x}" if point < 0x100 else f"<U+{point:04X}>"


def visible(text: str, *, lines: bool = False) -> str:
    """`text` with every control character shown by its code (`\\x1b`, `\\x00`,
    `<U+202E>`). `lines`: newline and tab stay themselves (a multi-line text shown as
    such); else they are shown too, so a one-line surface cannot be given a line that
    looks like one of ours."""
    keep = "\n\t" if lines else ""
    text = text.replace("\r\n", "\n") if lines else text
    return _CONTROL.sub(lambda m: m[0] if m[0] in keep else _code(m[0]), text)


def for_terminal(text: object, *, lines: bool = False) -> str:
    """`text` to embed in Rich markup (`f"[red]{for_terminal(error)}[/red]"`): controls
    shown visibly, markup escaped, so it prints as typed. (A whole message needs no
    markup: print `for_log(text)` with `markup=False`.)"""
    plain = visible(str(text), lines=lines)
    escaped = escape(plain)
    # Rich turns any `\[` of plain text into `[`, tag or not; `escape` covers only tags.
    escaped = _PLAIN_BRACKET.sub(r"\\\\", escaped)
    # Backslashes at the end precede the markup that follows: each is written twice.
    trailing = len(plain) - len(plain.rstrip("\\"))
    return escaped.rstrip("\\") + "\\" * (2 * trailing)


def for_log(text: object) -> str:
    """`text` for a plain-text log or stream: controls shown visibly; lines stay lines
    (a traceback is several)."""
    return visible(str(text), lines=True)


def for_storage(text: str) -> str:
    """`text` for a database row: escape sequences and control characters removed,
    newline and tab kept (a CR LF becomes a newline)."""
    if _CONTROL.search(text) is None:  # the common case: nothing to remove
        return text
    text = _SEQUENCE.sub("", text.replace("\r\n", "\n"))
    return _CONTROL.sub(lambda m: m[0] if m[0] in "\n\t" else "", text)


def csv_cell(value: object) -> str:
    """One CSV cell. Numbers we computed (int, float, Decimal) are written as they are, so
    `-12.50` stays a number. Any text (a symbol from a data file, a broker's or a model's
    reason) that begins with `=`, `+`, `-`, `@`, tab or CR is prefixed with `'`, so a
    spreadsheet shows it as text instead of running it as a formula; the type of the
    value, not its look, tells the two apart (a text "-2" is shown as the text "-2")."""
    if value is None:
        return ""
    if isinstance(value, bool):  # a bool is an int to Python, not a number to a reader
        return str(value)
    if isinstance(value, int | float | Decimal):
        return str(value)
    text = str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def scrub_secrets(text: str, secrets: Iterable[str]) -> str:
    """`text` with every secret replaced by `***` (the longest first, so a secret that
    contains another is masked whole). A "secret" shorter than MIN_SECRET_CHARS (a test
    key `k`) is left alone: it cannot be told from ordinary text, and masking it would
    mask every such letter of every message."""
    wanted = {s for s in secrets if len(s) >= MIN_SECRET_CHARS}
    for secret in sorted(wanted, key=len, reverse=True):
        text = text.replace(secret, SECRET_MASK)
    return text
