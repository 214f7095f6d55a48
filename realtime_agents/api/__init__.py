"""Read-only JSON API over recorded conversations (include `realtime_agents.urls` to serve it)."""
