"""The realtime_agents_<verb> commands."""
