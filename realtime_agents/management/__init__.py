"""Management commands of realtime_agents."""
