"""Fixtures for the offline model tests: the models load once per test session."""
from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from .speech import missing_offline


@pytest.fixture(scope="session")
def engines() -> Any:
    """VAD, Whisper and TTS loaded once (about 5 s warm); the spoken tests share them."""
    if missing_offline():
        pytest.skip(f"offline voice stack not installed: {', '.join(missing_offline())}")
    from realtime_agents.engine.offline import OfflineEngines

    return OfflineEngines.load()


@pytest.fixture
def raw_events() -> list[Any]:
    """A list that a RawRecorder fills with every event a model emits."""
    return []


class RawRecorder:
    """A model listener that keeps every raw event (GA server event dicts and transport events)."""

    def __init__(self, sink: list[Any]) -> None:
        self.sink = sink

    async def on_event(self, event: Any) -> None:
        self.sink.append(event)


@pytest.fixture
async def recorder(raw_events: list[Any]) -> AsyncIterator[RawRecorder]:
    """A recorder to add to a model with `model.add_listener(recorder)`."""
    yield RawRecorder(raw_events)
