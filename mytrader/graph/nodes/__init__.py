"""One module per node of the cycle: screener, critique, agent, vote, executor, record."""
