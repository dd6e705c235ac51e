"""Pure rules: no I/O, no LangGraph, no Settings (small frozen parameter objects instead).

The bottom layer (see DESIGN.md's layout): everything above may import it; it imports
nothing of MyTrader's but itself.
"""
