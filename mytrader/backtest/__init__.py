"""`mytrader backtest`: the arena graph over history (runner), its data checks, benchmarks,
blind mode, LLM cache, report and chart. Above the application: it runs the arena."""
