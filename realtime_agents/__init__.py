"""realtime_agents: a reusable Django app for realtime voice agents."""
