"""Fixtures for engine tests: a fake Realtime server on 127.0.0.1 per test."""
from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from realtime_agents.engine.testing import FakeRealtimeServer

from .helpers import API_KEY


@pytest.fixture
async def server() -> AsyncIterator[FakeRealtimeServer]:
    """A fake GA Realtime server that validates every event against the official `openai` types."""
    async with FakeRealtimeServer(api_key=API_KEY, validate=True) as fake:
        yield fake
        assert fake.validation_errors == []
