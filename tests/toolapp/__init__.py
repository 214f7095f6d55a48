"""A test-only app whose realtime_tools module the registry must discover at start-up."""
