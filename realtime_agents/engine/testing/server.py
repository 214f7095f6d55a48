"""The fake OpenAI Realtime server: a real ``websockets`` server on 127.0.0.1 speaking the GA protocol."""
from __future__ import annotations

import asyncio
import collections
import hmac
import json
import logging
from http import HTTPStatus
from types import TracebackType
from typing import Any, Literal
from urllib.parse import urlencode

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from .connection import FakeConnection
from .script import DEFAULT_RESPONSE, ScriptedResponse
from .validation import EventValidator, ValidationIssue
from .vad import DEFAULT_RMS_AT_HALF

logger = logging.getLogger("realtime_agents.engine.testing.server")

_MAX_MESSAGE_BYTES = 16 * 1024 * 1024  # appends may carry up to 15 MiB of base64
_BROWSER_KEY_PREFIX = "openai-insecure-api-key."


def _select_subprotocol(connection: ServerConnection, offered: Any) -> Any:
    # Browsers authenticate with subprotocols; clients that offer none get none.
    return "realtime" if "realtime" in offered else None


class FakeRealtimeServer:
    """A scriptable GA Realtime server for tests; use as ``async with FakeRealtimeServer() as server``."""

    #: The per-connection protocol class; a subclass can tweak what it sends (benchmarks stamp audio).
    connection_class: type[FakeConnection] = FakeConnection

    def __init__(
        self,
        *,
        api_key: str | None = None,
        validate: bool = False,
        model: str = "gpt-realtime",
        host: str = "127.0.0.1",
        port: int = 0,
        default_response: ScriptedResponse = DEFAULT_RESPONSE,
        default_transcription: str = "Hello.",
        record_audio: bool = True,
        vad_rms_at_half: float = DEFAULT_RMS_AT_HALF,
        late_transcription: bool = False,
    ) -> None:
        if not isinstance(default_response, ScriptedResponse):
            raise TypeError("default_response must be a ScriptedResponse")
        if api_key is not None and (not isinstance(api_key, str) or not api_key):
            raise ValueError("api_key must be a non-empty string or None")
        self.api_key = api_key
        self.model = model
        self.host = host
        self.default_response = default_response
        self.default_transcription = default_transcription
        self.record_audio = record_audio
        self.vad_rms_at_half = vad_rms_at_half
        # Send caller transcripts after `conversation.item.done`, as the real service often does.
        self.late_transcription = late_transcription
        # Importing the openai models only here keeps openai a dev-only dependency.
        self._validator = EventValidator() if validate else None
        self._requested_port = port
        self._server: Server | None = None
        self._responses: collections.deque[ScriptedResponse] = collections.deque()
        self._transcriptions: collections.deque[str] = collections.deque()
        self._live: list[FakeConnection] = []
        self._waiters: list[asyncio.Future[None]] = []
        self.all_connections: list[FakeConnection] = []
        self.client_events: list[dict[str, Any]] = []
        self.validation_errors: list[ValidationIssue] = []
        self.internal_errors: list[str] = []
        self.rejected_requests: list[dict[str, Any]] = []

    # -- lifecycle -----------------------------------------------------------------------------

    async def start(self) -> FakeRealtimeServer:
        """Start listening; returns self."""
        if self._server is not None:
            raise RuntimeError("FakeRealtimeServer is already started")
        self._server = await serve(
            self._handle, self.host, self._requested_port, process_request=self._process_request,
            select_subprotocol=_select_subprotocol, max_size=_MAX_MESSAGE_BYTES, compression=None,
        )
        return self

    async def close(self) -> None:
        """Close every connection (close frame 1001), cancel every task the server started, stop listening."""
        if self._server is None:
            return
        server, self._server = self._server, None
        for connection in list(self._live):
            await connection.stop_tasks()
        server.close(close_connections=True)
        await server.wait_closed()
        for connection in self.all_connections:
            await connection.stop_tasks()
        self.notify()

    async def __aenter__(self) -> FakeRealtimeServer:
        return await self.start()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    # -- addresses -----------------------------------------------------------------------------

    @property
    def port(self) -> int:
        """The TCP port the server listens on."""
        if self._server is None:
            raise RuntimeError("FakeRealtimeServer is not started; use `async with` or `await start()`")
        return self._server.sockets[0].getsockname()[1]

    @property
    def url(self) -> str:
        """WebSocket URL starting a new session with the server's model."""
        return self.url_for(model=self.model)

    @property
    def http_base_url(self) -> str:
        """Base URL for ``openai.AsyncOpenAI(base_url=...)``; the SDK appends ``/realtime``."""
        return f"http://{self.host}:{self.port}/v1"

    def url_for(self, **query: str) -> str:
        """WebSocket URL with the given query parameters (``model``, ``call_id``, ``intent``...)."""
        suffix = f"?{urlencode(query)}" if query else ""
        return f"ws://{self.host}:{self.port}/v1/realtime{suffix}"

    def url_for_call(self, call_id: str) -> str:
        """WebSocket URL attaching to a SIP/WebRTC call by id."""
        return self.url_for(call_id=call_id)

    # -- scripting -----------------------------------------------------------------------------

    def add_response(self, *responses: ScriptedResponse) -> None:
        """Queue responses (FIFO, shared by all connections); the default answers once it is empty."""
        for response in responses:
            if not isinstance(response, ScriptedResponse):
                raise TypeError(f"add_response takes ScriptedResponse objects, not {type(response).__name__}")
        self._responses.extend(responses)

    def add_transcription(self, *transcripts: str) -> None:
        """Queue transcripts for the next committed user audio (when transcription is on)."""
        for transcript in transcripts:
            if not isinstance(transcript, str):
                raise TypeError("add_transcription takes strings")
        self._transcriptions.extend(transcripts)

    def next_response(self) -> ScriptedResponse:
        """Pop the next scripted response, or the default one."""
        return self._responses.popleft() if self._responses else self.default_response

    def next_transcription(self) -> str:
        """Pop the next scripted transcript, or the default one."""
        return self._transcriptions.popleft() if self._transcriptions else self.default_transcription

    @property
    def pending_responses(self) -> int:
        """How many queued responses have not been used yet."""
        return len(self._responses)

    # -- observation ---------------------------------------------------------------------------

    @property
    def connections(self) -> list[FakeConnection]:
        """Connections currently open, oldest first."""
        return list(self._live)

    def record_client_event(self, connection: FakeConnection, event: dict[str, Any]) -> None:
        """Keep a received client event (audio payloads dropped when ``record_audio`` is False)."""
        if not self.record_audio and event.get("type") == "input_audio_buffer.append":
            event = {**event, "audio": ""}
        connection.client_events.append(event)
        self.client_events.append(event)

    def check_event(
        self, connection: FakeConnection, event: dict[str, Any], *, direction: Literal["sent", "received"]
    ) -> None:
        """Validate an event against the openai models when ``validate=True``; record any failure."""
        if self._validator is None:
            return
        if direction == "sent":
            detail = self._validator.check_server_event(event)
        else:
            detail = self._validator.check_client_event(event)
        if detail is not None:
            logger.warning("%s event %s failed validation: %s", direction, event.get("type"), detail)
            self.validation_errors.append(ValidationIssue(direction=direction, event_type=str(event.get("type")),
                                                          detail=detail, connection_id=connection.id))

    def notify(self) -> None:
        """Wake every ``wait_for_*`` call so it re-checks its condition."""
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    async def _wait_until(self, ready: Any, timeout: float, describe: Any) -> Any:
        try:
            async with asyncio.timeout(timeout):
                while (result := ready()) is None:
                    waiter = asyncio.get_running_loop().create_future()
                    self._waiters.append(waiter)
                    await waiter
        except TimeoutError:
            raise TimeoutError(describe()) from None
        return result

    async def wait_for_client_event(self, event_type: str, *, count: int = 1, timeout: float = 5.0
                                    ) -> list[dict[str, Any]]:
        """Wait until ``count`` client events of this type were received and handled; return them all."""
        def ready() -> list[dict[str, Any]] | None:
            found = [e for e in self.client_events if e.get("type") == event_type]
            return found if len(found) >= count else None

        def describe() -> str:
            seen = collections.Counter(e.get("type") for e in self.client_events)
            return f"waited {timeout}s for {count} {event_type!r} client event(s); received: {dict(seen)}"

        return await self._wait_until(ready, timeout, describe)

    async def wait_for_connection(self, *, count: int = 1, timeout: float = 5.0) -> FakeConnection:
        """Wait until ``count`` connections were made in total; return the newest."""
        return await self._wait_until(
            lambda: self.all_connections[-1] if len(self.all_connections) >= count else None,
            timeout, lambda: f"waited {timeout}s for {count} connection(s); got {len(self.all_connections)}",
        )

    async def wait_until_idle(self, *, timeout: float = 5.0) -> None:
        """Wait until no connection has a response streaming."""
        await self._wait_until(
            lambda: True if all(c.active_response_id is None for c in self._live) else None,
            timeout, lambda: f"a response was still streaming after {timeout}s",
        )

    # -- pushing -------------------------------------------------------------------------------

    def _target(self, connection: FakeConnection | None) -> FakeConnection:
        if connection is not None:
            return connection
        if not self._live:
            raise RuntimeError("the fake server has no open connection")
        return self._live[-1]

    async def send_server_event(self, event: dict[str, Any], *, connection: FakeConnection | None = None) -> None:
        """Push an arbitrary server event (to the newest connection by default)."""
        if not isinstance(event, dict) or not isinstance(event.get("type"), str):
            raise ValueError("a server event must be a dict with a string 'type'")
        await self._target(connection).send(dict(event))

    async def inject_error(
        self, *, code: str = "server_error", message: str = "Injected error", error_type: str = "server_error",
        param: str | None = None, connection: FakeConnection | None = None,
    ) -> None:
        """Send an ``error`` event (to the newest connection by default)."""
        await self._target(connection).send_error(code, message, param=param, error_type=error_type)

    async def drop_connection(self, *, connection: FakeConnection | None = None) -> None:
        """Abort the TCP connection without a close frame (to the newest connection by default)."""
        target = self._target(connection)
        target.abort()
        await target.stop_tasks()

    # -- websocket plumbing --------------------------------------------------------------------

    def _authorised(self, request: Request) -> bool:
        assert self.api_key is not None
        key = self.api_key
        offered = [request.headers.get("api-key") or ""]
        authorization = request.headers.get("Authorization") or ""
        if authorization.startswith("Bearer "):
            offered.append(authorization[len("Bearer "):])
        for protocol in ",".join(request.headers.get_all("Sec-WebSocket-Protocol")).split(","):
            protocol = protocol.strip()
            if protocol.startswith(_BROWSER_KEY_PREFIX):
                offered.append(protocol[len(_BROWSER_KEY_PREFIX):])
        return any(hmac.compare_digest(candidate.encode(), key.encode()) for candidate in offered if candidate)

    def _process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        path = request.path.partition("?")[0].rstrip("/")
        if not path.endswith("/realtime"):
            return self._http_error(HTTPStatus.NOT_FOUND, "not_found", f"No realtime endpoint at {path!r}.")
        if self.api_key is not None and not self._authorised(request):
            self.rejected_requests.append({"path": request.path, "status": 401})
            return self._http_error(HTTPStatus.UNAUTHORIZED, "invalid_api_key", "Incorrect API key provided.")
        return None

    @staticmethod
    def _http_error(status: HTTPStatus, code: str, message: str) -> Response:
        body = json.dumps({"error": {"message": message, "type": "invalid_request_error", "code": code,
                                     "param": None}}).encode()
        headers = Headers([("Content-Type", "application/json"), ("Content-Length", str(len(body))),
                           ("Connection", "close")])
        return Response(status.value, status.phrase, headers, body)

    async def _handle(self, websocket: ServerConnection) -> None:
        connection = self.connection_class(server=self, websocket=websocket)
        self._live.append(connection)
        self.all_connections.append(connection)
        self.notify()
        try:
            await connection.open()
            async for message in websocket:
                await connection.handle(message)
        except ConnectionClosed:
            logger.debug("connection %s closed by the peer", connection.id)
        finally:
            connection.closed = True
            await connection.stop_tasks()
            self._live.remove(connection)
            self.notify()
