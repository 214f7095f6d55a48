"""Helpers of the conversation recorder: event tracking (pure) and database writing."""
