"""Helpers for engine tests: run sessions against the fake server and read their events."""
from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

from realtime_agents.engine import AgentSpec, Runner, Session, SessionEvent

API_KEY = "test-key"


def runner_for(agent: AgentSpec, **config: Any) -> Runner:
    """A runner with text-friendly defaults for tests (audio output, server VAD off unless given)."""
    return Runner(agent, config=config or None)


async def open_session(runner: Runner, server: Any, **model_config: Any) -> Session:
    """A session for the fake server, not yet entered (use `async with session:`)."""
    model_config.setdefault("api_key", API_KEY)
    model_config.setdefault("url", server.url)
    return await runner.run(model_config=model_config)


class EventReader:
    """Reads a session's events with timeouts, keeping everything seen."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self._iterator: AsyncIterator[SessionEvent] = session.__aiter__()
        self.seen: list[SessionEvent] = []

    async def next(self, timeout: float = 5.0) -> SessionEvent:
        """The next event, or TimeoutError."""
        async with asyncio.timeout(timeout):
            event = await self._iterator.__anext__()
        self.seen.append(event)
        return event

    async def until(self, predicate: Callable[[SessionEvent], bool] | str, timeout: float = 5.0,
                    max_events: int = 10_000) -> SessionEvent:
        """Read until an event matches (a type name or a predicate); return it."""
        check = (lambda e: e.type == predicate) if isinstance(predicate, str) else predicate
        async with asyncio.timeout(timeout):
            for _ in range(max_events):
                event = await self.next(timeout)
                if check(event):
                    return event
        raise AssertionError(f"no matching event in {max_events} events")

    async def drain(self, timeout: float = 0.3) -> list[SessionEvent]:
        """Everything that arrives within `timeout` of quiet."""
        got: list[SessionEvent] = []
        while True:
            try:
                got.append(await self.next(timeout))
            except (TimeoutError, StopAsyncIteration):
                return got

    def of_type(self, kind: str) -> list[Any]:
        """Every seen event of one type."""
        return [e for e in self.seen if e.type == kind]


def server_events(server: Any) -> list[dict[str, Any]]:
    """Every event the fake server sent, over all its connections."""
    return [event for connection in server.connections for event in connection.server_events]
