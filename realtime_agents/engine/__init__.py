"""The realtime session engine: pure asyncio, no Django."""
