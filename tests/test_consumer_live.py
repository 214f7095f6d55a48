"""The browser consumer behind a real Daphne on 127.0.0.1, driven by a real `websockets` client."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from tests.consumer_helpers import ORIGIN, Closed, FrameReader
from tests.live_server import daphne_url, settle_daphne
from tests.rows import close_db_threads  # noqa: F401  (fixture)

# The same scenarios as through WebsocketCommunicator, now over TCP through Daphne. Left out: the
# per-IP limit (every client here is 127.0.0.1) and the no-reconnect application (another route).
from tests.test_consumer import (  # noqa: F401  (collected here with this module's new_browser)
    server,
    test_abusive_clients_are_closed_and_the_conversation_finalised,
    test_approval_round_trip,
    test_browser_audio_goes_upstream_and_commit_ends_the_turn,
    test_channels_without_a_caller_reject_approvals_by_policy,
    test_disconnect_closes_upstream_within_a_second,
    test_every_bad_input_gets_an_error_and_the_session_goes_on,
    test_greeting_is_spoken_first,
    test_guardrail_trip_frames,
    test_handoff_announces_the_new_agent,
    test_interrupt_truncates_at_the_reported_playback_position,
    test_maximum_session_length,
    test_refusals_have_documented_close_codes,
    test_text_in_transcript_and_raw_audio_out,
    test_tool_run_frames_hide_arguments_unless_the_channel_shows_them,
    test_unreachable_upstream_is_reported_and_finalised,
)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("close_db_threads")]


@pytest.fixture(autouse=True)
async def settle(daphne: Any) -> AsyncIterator[None]:
    """After each test, let Daphne finish its sessions and application instances."""
    yield
    await settle_daphne(daphne)


class LiveBrowser:
    """A real WebSocket client with the same interface as the communicator-backed test browser."""

    def __init__(self, base_url: str, slug: str, *, origin: str | None = ORIGIN) -> None:
        self.url = f"{base_url}/ws/realtime/{slug}/"
        self.origin = origin
        self.ws: ClientConnection | None = None
        self.frames = FrameReader(self._receive)

    async def _receive(self, timeout: float) -> Any:
        assert self.ws is not None
        try:
            async with asyncio.timeout(timeout):
                message = await self.ws.recv()
        except ConnectionClosed:
            return Closed(code=self.ws.close_code or 1006)
        return message if isinstance(message, bytes) else json.loads(message)

    async def connect(self) -> None:
        """Open the socket (the `ready` frame is not read)."""
        self.ws = await connect(self.url, origin=self.origin, open_timeout=5, compression=None,  # type: ignore[arg-type]
                                max_size=None, user_agent_header="pytest-live-browser")

    async def open(self) -> dict[str, Any]:
        """Connect and return the `ready` frame."""
        await self.connect()
        ready = await self.frames.next()
        assert isinstance(ready, dict) and ready["type"] == "ready", ready
        return ready

    async def refused(self) -> int:
        """Connect and return the refusal's close code (visible to the client: accepted, then closed)."""
        await self.connect()
        frame = await self.frames.next()
        assert isinstance(frame, Closed), frame
        return frame.code

    async def send(self, frame: dict[str, Any]) -> None:
        await self.send_text(json.dumps(frame))

    async def send_text(self, text: str) -> None:
        assert self.ws is not None
        await self.ws.send(text)

    async def send_audio(self, data: bytes) -> None:
        assert self.ws is not None
        await self.ws.send(data)

    async def error(self) -> dict[str, Any]:
        frame = await self.frames.until("error")
        assert isinstance(frame, dict)
        return frame

    async def drop(self) -> None:
        """The browser vanishes: the TCP connection is cut without a close frame."""
        assert self.ws is not None
        self.ws.transport.abort()

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()


@pytest.fixture
def new_browser(daphne: Any) -> Callable[..., LiveBrowser]:
    """Tests open real client sockets to the live Daphne."""
    return lambda slug, **options: LiveBrowser(daphne_url(daphne, "ws"), slug, **options)
