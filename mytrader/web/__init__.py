"""The dashboard: FastAPI routers (api, stream), guard and login (auth), parameters and
bounds, the live watcher, and the static page (static/)."""
