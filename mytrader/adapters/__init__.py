"""Adapters: the outside systems behind the ports — the simulated exchange and Alpaca, bar
files, news, OpenRouter and the house models, the store. They import only the domain and
the ports (an import contract checks it); each is built by the application from settings."""
