"""The `mytrader` command: one module per group of commands, assembled in main.py."""
