"""The browser consumer behind a real Daphne on 127.0.0.1, driven by a real `websockets` client."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from tests.consumer_helpers import ORIGIN, Closed, FrameReader, wait_all_finalised
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
    """After each test, let Daphne finish its sessions and application instances.

    Sessions end after the client's close, so the database must not be flushed before they are
    finalised; and with channels-redis, an application instance still receiving on Daphne's loop
    would clash with the next test's loop ("two event loops ... on one channel layer").
    """
    yield
    await wait_all_finalised()
    # Generous: with channels-redis an instance may sit in a blocking Redis read for a few seconds.
    async with asyncio.timeout(15):
        while _applications_running(daphne):
            await asyncio.sleep(0.02)


def _applications_running(daphne: Any) -> bool:
    """Whether any of Daphne's application instances is still running (read from another thread)."""
    try:
        instances = [details.get("application_instance") for details in list(daphne.connections.values())]
    except RuntimeError:  # the dict changed size while Daphne's thread updated it: look again
        return True
    return any(instance is not None and not instance.done() for instance in instances)


@pytest.fixture(scope="session")
def daphne() -> Iterator[Any]:
    """A Daphne serving tests.asgi on a free port, in a thread (Twisted's reactor runs once per process)."""
    from daphne.server import Server
    from twisted.internet import reactor

    from tests.asgi import application

    daphne = Server(application=application, endpoints=["tcp:port=0:interface=127.0.0.1"], signal_handlers=False,
                    verbosity=0)
    thread = threading.Thread(target=daphne.run, name="daphne-test-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not daphne.listening_addresses:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("Daphne did not start listening within 10 s")
        time.sleep(0.02)
    yield daphne
    reactor.callFromThread(reactor.stop)  # type: ignore[attr-defined]
    thread.join(timeout=10)


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
    host, port = daphne.listening_addresses[0]
    return lambda slug, **options: LiveBrowser(f"ws://{host}:{port}", slug, **options)
