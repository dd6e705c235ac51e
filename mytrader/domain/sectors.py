"""Static sector and name of the bundled sample's symbols (the offline market has no
reference-data service). Biotech and pharma are split on purpose: the arena's personas
reason about them differently. Anything not listed is sector "other".
"""

from __future__ import annotations

from types import MappingProxyType

OTHER = "other"

# symbol -> (sector, name)
_ASSETS: dict[str, tuple[str, str]] = {
    # tech (incl. internet and media platforms)
    "AAPL": ("tech", "Apple Inc."),
    "AMD": ("tech", "Advanced Micro Devices, Inc."),
    "AVGO": ("tech", "Broadcom Inc."),
    "GOOGL": ("tech", "Alphabet Inc. (Class A)"),
    "META": ("tech", "Meta Platforms, Inc."),
    "MSFT": ("tech", "Microsoft Corporation"),
    "NFLX": ("tech", "Netflix, Inc."),
    "NVDA": ("tech", "NVIDIA Corporation"),
    # consumer (discretionary and staples)
    "AMZN": ("consumer", "Amazon.com, Inc."),
    "COST": ("consumer", "Costco Wholesale Corporation"),
    "KO": ("consumer", "The Coca-Cola Company"),
    "PG": ("consumer", "The Procter & Gamble Company"),
    "TSLA": ("consumer", "Tesla, Inc."),
    "WMT": ("consumer", "Walmart Inc."),
    # finance
    "BAC": ("finance", "Bank of America Corporation"),
    "JPM": ("finance", "JPMorgan Chase & Co."),
    # energy
    "CVX": ("energy", "Chevron Corporation"),
    "XOM": ("energy", "Exxon Mobil Corporation"),
    # healthcare services
    "UNH": ("healthcare", "UnitedHealth Group Incorporated"),
    # biotech
    "AMGN": ("biotech", "Amgen Inc."),
    "BIIB": ("biotech", "Biogen Inc."),
    "GILD": ("biotech", "Gilead Sciences, Inc."),
    "MRNA": ("biotech", "Moderna, Inc."),
    "REGN": ("biotech", "Regeneron Pharmaceuticals, Inc."),
    "VRTX": ("biotech", "Vertex Pharmaceuticals Incorporated"),
    # pharma
    "ABBV": ("pharma", "AbbVie Inc."),
    "JNJ": ("pharma", "Johnson & Johnson"),
    "LLY": ("pharma", "Eli Lilly and Company"),
    "MRK": ("pharma", "Merck & Co., Inc."),
    "PFE": ("pharma", "Pfizer Inc."),
    # funds
    "SPY": ("etf", "SPDR S&P 500 ETF Trust"),
    "TLT": ("etf", "iShares 20+ Year Treasury Bond ETF"),
}

SECTORS: MappingProxyType[str, str] = MappingProxyType({s: v[0] for s, v in _ASSETS.items()})
NAMES: MappingProxyType[str, str] = MappingProxyType({s: v[1] for s, v in _ASSETS.items()})


def sector_of(symbol: str) -> str:
    return SECTORS.get(symbol.upper(), OTHER)


def name_of(symbol: str) -> str:
    """Company name; empty when unknown (AssetInfo's default)."""
    return NAMES.get(symbol.upper(), "")
