"""The simulated exchange over the bundled real bars: one account per arena with Alpaca's
account rules, fills at the next price, stops and OCO exits."""
