"""The money constants every rule rounds and scales with: one copy for all of mytrader."""

from __future__ import annotations

from decimal import Decimal

CENT = Decimal("0.01")  # prices and dollar figures are kept to the cent
HUNDRED = Decimal("100")  # percent
ZERO = Decimal("0")
