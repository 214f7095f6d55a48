"""Helpers for the browser consumer tests: a frame reader, rows for a channel, and recorded outcomes."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from asgiref.sync import sync_to_async

from realtime_agents.engine.testing import FakeRealtimeServer
from realtime_agents.models import Channel, Conversation

from . import rows

API_KEY = "test-key"
ORIGIN = "http://testserver"


@asynccontextmanager
async def fake_openai_upstream(settings: Any, **extra: Any) -> AsyncIterator[FakeRealtimeServer]:
    """A validating fake Realtime server set as the site's OpenAI endpoint (plus `extra` settings)."""
    async with FakeRealtimeServer(api_key=API_KEY, validate=True) as fake:
        settings.REALTIME_AGENTS = {
            "OPENAI_API_KEY": API_KEY,
            "OPENAI_REALTIME_URL": fake.url,
            "DEFAULT_TRANSPORT": "openai",
            **extra,
        }
        yield fake
        assert fake.validation_errors == []


@dataclass(frozen=True, kw_only=True)
class Closed:
    """The server closed the socket with this code."""

    code: int


Frame = dict[str, Any] | bytes | Closed


class FrameReader:
    """Reads a browser socket's frames (JSON decoded) with timeouts, keeping everything seen."""

    def __init__(self, receive: Callable[[float], Awaitable[Frame]]) -> None:
        self._receive = receive
        self.seen: list[Frame] = []
        self.closed: Closed | None = None

    async def next(self, timeout: float = 5.0) -> Frame:
        """The next frame, or TimeoutError."""
        frame = await self._receive(timeout)
        self.seen.append(frame)
        if isinstance(frame, Closed):
            self.closed = frame
        return frame

    async def until(
        self, predicate: str | Callable[[Frame], bool], timeout: float = 5.0, max_frames: int = 5000
    ) -> Frame:
        """Read until a frame matches (a JSON `type` or a predicate); return it."""
        check = (
            (lambda f: isinstance(f, dict) and f.get("type") == predicate)
            if isinstance(predicate, str)
            else predicate
        )
        async with asyncio.timeout(timeout):
            for _ in range(max_frames):
                frame = await self.next(timeout)
                if check(frame):
                    return frame
                if isinstance(frame, Closed):
                    raise AssertionError(f"closed ({frame.code}) before a match; seen {self.types()}")
        raise AssertionError(f"no match in {max_frames} frames")

    async def until_closed(self, timeout: float = 5.0, max_frames: int = 5000) -> Closed:
        """Read until the server closes; return the close."""
        async with asyncio.timeout(timeout):
            for _ in range(max_frames):
                frame = await self.next(timeout)
                if isinstance(frame, Closed):
                    return frame
        raise AssertionError(f"not closed after {max_frames} frames")

    def of_type(self, kind: str) -> list[dict[str, Any]]:
        """Every JSON frame of one type seen so far."""
        return [f for f in self.seen if isinstance(f, dict) and f.get("type") == kind]

    def types(self) -> list[str]:
        """The sequence of frame types seen ("<audio>" for binary frames)."""
        out = []
        for f in self.seen:
            if isinstance(f, bytes):
                if not out or out[-1] != "<audio>":
                    out.append("<audio>")
            elif isinstance(f, Closed):
                out.append(f"<close {f.code}>")
            else:
                out.append(str(f.get("type")))
        return out

    def audio(self) -> list[bytes]:
        """Every binary frame seen."""
        return [f for f in self.seen if isinstance(f, bytes)]


def decode_output(message: dict[str, Any]) -> Frame:
    """A Channels output message as a frame."""
    if message["type"] == "websocket.close":
        return Closed(code=int(message.get("code", 1000)))
    if message.get("bytes") is not None:
        return bytes(message["bytes"])
    return json.loads(message["text"])


def upstream_audio(server: FakeRealtimeServer) -> list[bytes]:
    """Every audio delta the fake server sent, decoded, in order."""
    return [
        base64.b64decode(event["delta"])
        for connection in server.all_connections
        for event in connection.server_events
        if event.get("type") == "response.output_audio.delta"
    ]


def upstream_input_audio(server: FakeRealtimeServer) -> bytes:
    """Every microphone byte the fake server was sent, in order (frames may be joined into one append)."""
    return b"".join(
        base64.b64decode(event["audio"]) for event in upstream_events(server, "input_audio_buffer.append")
    )


def upstream_events(server: FakeRealtimeServer, kind: str) -> list[dict[str, Any]]:
    """Client events of one type the fake server received."""
    return [event for event in server.client_events if event.get("type") == kind]


async def wait_until(predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    """Poll (bounded) until `predicate()` holds."""
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.01)


async def wait_upstream_closed(server: FakeRealtimeServer, timeout: float) -> float:
    """Wait until the fake server has no open connection; return how long it took."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    async with asyncio.timeout(timeout):
        while server.connections:
            await asyncio.sleep(0.01)
    return loop.time() - started


@sync_to_async
def make_channel(
    slug: str = "desk",
    *,
    tools: list[Any] | None = None,
    agent_fields: dict[str, Any] | None = None,
    **fields: Any,
) -> Channel:
    """An active web channel whose starting agent has the given tools (rows)."""
    start = rows.agent(f"{slug}-agent", **(agent_fields or {}))
    for tool in tools or []:
        start.tools.add(tool)
    return rows.channel(slug, start, **fields)


async def conversation_row(public_id: str, *, ended: bool = True, timeout: float = 5.0) -> Conversation:
    """The conversation's row, waiting (bounded) until it is finalised when `ended`."""
    get = sync_to_async(lambda: Conversation.objects.get(public_id=public_id))
    async with asyncio.timeout(timeout):
        while True:
            row = await get()
            if not ended or row.end_reason:
                return row
            await asyncio.sleep(0.02)


async def wait_all_finalised(timeout: float = 5.0) -> None:
    """Wait (bounded) until every conversation row is finalised: server-side ends run after the client's."""
    pending = sync_to_async(lambda: Conversation.objects.filter(end_reason="").exists())
    async with asyncio.timeout(timeout):
        while await pending():
            await asyncio.sleep(0.02)
