"""The application: settings become services and the graph's context (services, context,
models, brokers, storage), and the use cases run it — runner, scheduler, status, repair,
reconcile, the leaderboard, and the Studio entry for langgraph.json (studio.py)."""
