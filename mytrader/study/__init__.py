"""Studies: many backtests (windows x variants) on Dask, judged with the statistics of
multiple testing (deflated Sharpe, probability of backtest overfitting)."""
