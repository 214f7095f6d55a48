"""The demo app: demo tools and the command that loads the demo channel and agents."""
