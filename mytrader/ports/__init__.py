"""Ports: the interfaces the graph and the application see (the Broker, the order ledger).
Adapters implement them; nothing here does I/O."""
