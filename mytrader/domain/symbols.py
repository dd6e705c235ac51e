"""Ticker symbols: one spelling everywhere (upper case) and one character set.

A symbol is an upper-case letter followed by at most nine letters, digits, '.' or '-'
(`BRK.B`, `BF-B`). Data files, settings and the books all use `normalise_symbol`'s form,
so a file written in lower case trades the same symbols a model names.
"""

from __future__ import annotations

import re

SYMBOL_PATTERN = r"[A-Z][A-Z0-9.\-]{0,9}"
SYMBOL_RULE = "an upper-case letter, then up to 9 letters, digits, '.' or '-' (e.g. BRK.B)"
_SYMBOL = re.compile(SYMBOL_PATTERN)


def normalise_symbol(text: str) -> str:
    """The symbol in its one spelling; ValueError when it is not a symbol."""
    # ASCII first: str.upper() maps some other letters to ASCII ones ('ı' -> 'I').
    symbol = text.strip().upper() if text.isascii() else ""
    if not _SYMBOL.fullmatch(symbol):
        raise ValueError(f"{text!r} is not a symbol: {SYMBOL_RULE}")
    return symbol


def normalise_symbols(text: str) -> list[str]:
    """Comma-separated symbols (empty items skipped), each normalised, in order, once."""
    out: list[str] = []
    for item in text.split(","):
        if item.strip():
            symbol = normalise_symbol(item)
            if symbol not in out:
                out.append(symbol)
    return out
