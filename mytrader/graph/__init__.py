"""The arena graph: one module per node, the builder, and the Studio entry point (app.py)."""
