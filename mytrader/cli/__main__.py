"""`python -m mytrader.cli`: the `mytrader` command."""

from mytrader.cli.main import app

if __name__ == "__main__":
    app()
