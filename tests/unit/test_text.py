"""The surface functions of mytrader/domain/text.py, fed generated hostile strings.

A Rich console records what it would print: the text a person reads must be exactly the
input with its control characters shown by code (markup shown as typed, never applied),
and nothing the terminal would act on (ESC, C1, NUL, bidi overrides) may remain.
"""

from __future__ import annotations

import csv
import io
import re
from decimal import Decimal

from hypothesis import example, given, settings
from hypothesis import strategies as st
from rich.console import Console

from mytrader.domain.text import (
    csv_cell,
    for_log,
    for_storage,
    for_terminal,
    scrub_secrets,
    visible,
)

SECRET = "sk-or-v1-SECRET-7f3a9c"
# Pieces a hostile model, file or setting might send, mixed with ordinary text.
HOSTILE = [
    "[/]",
    "[/red]",
    "[bold]",
    "[link=file:///etc/passwd]click[/link]",
    "\\",
    "\\[",
    "\x1b[2J",
    "\x1b[31m",
    "\x1b]8;;http://evil.example\x1b\\here\x1b]8;;\x1b\\",
    "\x1b]0;title\x07",
    "\x9b2J",
    "\x00",
    "\r",
    "\n",
    "\t",
    "\u202e",
    "\u2066",
    "\u2028",
    "\x7f",
    ":warning:",
    "=SUM(1)",
    "@cmd",
    "-2+3",
    SECRET,
    "AAPL",
    "buy",
]
hostile = st.one_of(
    st.lists(st.sampled_from(HOSTILE), max_size=12).map("".join),
    st.text(max_size=200),
    st.lists(st.one_of(st.sampled_from(HOSTILE), st.text(max_size=8)), max_size=20).map("".join),
)
# What a terminal acts on: C0 but newline, DEL, C1, bidi controls, line separators.
ACTED_ON = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\u2028\u2029]")


def printed(markup: str) -> str:
    """What a person reads when `markup` is printed on a Rich console (no wrapping)."""
    console = Console(record=True, width=100_000, file=io.StringIO(), emoji=False)
    console.print(markup, highlight=False, soft_wrap=True, end="")
    return console.export_text()


@given(hostile)
@settings(max_examples=400)
@example("[/]")
@example("[link=file:///etc/passwd]click[/link]")
@example("\x1b[2J\x00\u202e")
def test_terminal_text_prints_exactly_the_visible_input(text: str) -> None:
    out = printed(f"[red]{for_terminal(text)}[/red] ok [b]{for_terminal(text)}[/b]")
    assert out == f"{visible(text)} ok {visible(text)}"  # markup shown as typed, not applied
    assert ACTED_ON.search(out.replace("\n", "")) is None
    assert "\n" not in out  # one line: a model cannot add a line that looks like ours


@given(hostile)
@settings(max_examples=200)
def test_terminal_text_in_lines_keeps_only_newline_and_tab(text: str) -> None:
    out = printed(f"[dim]{for_terminal(text, lines=True)}[/dim]")
    # Rich expands a tab to spaces
    assert out.replace(" ", "") == visible(text, lines=True).replace("\t", "").replace(" ", "")
    assert ACTED_ON.search(out.replace("\t", "")) is None


@given(hostile)
@settings(max_examples=200)
def test_storage_and_log_text_hold_nothing_a_terminal_acts_on(text: str) -> None:
    for out in (for_storage(text), for_log(text)):
        assert ACTED_ON.search(out.replace("\t", "")) is None
    assert for_storage(for_storage(text)) == for_storage(text)


def test_escape_sequences_leave_no_trace_in_storage() -> None:
    text = "a\x1b[2Jb\x1b[31mc\x1b]8;;http://evil.example\x1b\\d\x1b]8;;\x1b\\e\x00\u202ef\r\ng"
    assert for_storage(text) == "abcdef\ng"
    assert visible("\x1b[2J\u202e\x00") == "\\x1b[2J<U+202E>\\x00"


@given(hostile)
@settings(max_examples=300)
def test_no_csv_text_cell_starts_a_formula(text: str) -> None:
    buffer = io.StringIO()
    csv.writer(buffer).writerow([csv_cell(text), csv_cell(Decimal("-12.50")), csv_cell(-3)])
    (row,) = list(csv.reader(io.StringIO(buffer.getvalue())))
    assert not row[0].startswith(("=", "+", "-", "@", "\t", "\r"))
    assert row[0].removeprefix("'") == text or row[0] == text
    assert row[1:] == ["-12.50", "-3"]  # numbers we computed stay numbers


def test_csv_cells_of_the_owasp_list() -> None:
    cells = [csv_cell(v) for v in ("@SUM(1)", "-2+3", "=1+1", "+1", "\tx", "\rx", "AAPL")]
    assert cells == ["'@SUM(1)", "'-2+3", "'=1+1", "'+1", "'\tx", "'\rx", "AAPL"]
    assert [csv_cell(v) for v in (None, Decimal("-12.50"), -1.5, 7)] == ["", "-12.50", "-1.5", "7"]


@given(hostile, st.lists(st.text(min_size=4, max_size=30), max_size=4))
@settings(max_examples=300)
def test_no_secret_survives_the_scrub(text: str, others: list[str]) -> None:
    secrets = [SECRET, *others]
    out = scrub_secrets(text, secrets)
    assert SECRET not in out
    for secret in others:
        assert secret not in out or "*" in secret  # a secret made of the mask itself


def test_a_longer_secret_is_masked_whole() -> None:
    assert scrub_secrets("key sk-abc-123 and sk-abc", ["sk-abc", "sk-abc-123"]) == "key *** and ***"
    assert scrub_secrets("nothing", ["", "x" * 0]) == "nothing"
    # a test key `k` would mask every k of every message: too short to be a secret
    assert scrub_secrets("insufficient buying power", ["k", "s"]) == "insufficient buying power"
