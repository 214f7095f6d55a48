"""One client connection to the fake Realtime server: session, conversation, input audio, responses."""
from __future__ import annotations

import asyncio
import collections
import copy
import json
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from websockets.exceptions import ConnectionClosed

from .conversation import Conversation, normalise_client_item
from .protocol import ProtocolError, error_event, new_id
from .input_audio import InputAudioBuffer
from .responder import ActiveResponse
from .script import ScriptedResponse
from .session_config import apply_session_update, default_session

if TYPE_CHECKING:
    from websockets.asyncio.server import ServerConnection

    from .server import FakeRealtimeServer

logger = logging.getLogger("realtime_agents.engine.testing.connection")

Handler = Callable[[dict[str, Any]], Awaitable[None]]


class FakeConnection:
    """Server side of one WebSocket: what the client sent, the effective session and the conversation."""

    def __init__(self, *, server: FakeRealtimeServer, websocket: ServerConnection) -> None:
        self.server = server
        self.websocket = websocket
        self.id = new_id("conn")
        request = websocket.request
        raw_path = request.path if request is not None else "/"
        self.path, _, query = raw_path.partition("?")
        self.query: dict[str, str] = dict(parse_qsl(query))
        self.headers: dict[str, str] = (
            {name.lower(): value for name, value in request.headers.raw_items()} if request is not None else {}
        )
        self.call_id: str | None = self.query.get("call_id")
        self.session: dict[str, Any] = default_session(
            session_id=new_id("sess"), model=self.query.get("model") or server.model
        )
        self.conversation_id = new_id("conv")
        self.client_events: list[dict[str, Any]] = []
        self.server_events: list[dict[str, Any]] = []
        self.voice_locked = False
        self.item_audio_ms: dict[str, int] = {}
        self.closed = False
        self.responses: collections.deque[ScriptedResponse] = collections.deque()
        self._conversation = Conversation()
        self.input_audio = InputAudioBuffer(self)
        self._active: ActiveResponse | None = None
        self._out_of_band: set[ActiveResponse] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._handlers: dict[str, Handler] = {
            "session.update": self._on_session_update,
            "input_audio_buffer.append": self.input_audio.append,
            "input_audio_buffer.commit": self.input_audio.commit,
            "input_audio_buffer.clear": self.input_audio.clear,
            "conversation.item.create": self._on_item_create,
            "conversation.item.retrieve": self._on_item_retrieve,
            "conversation.item.delete": self._on_item_delete,
            "conversation.item.truncate": self._on_item_truncate,
            "response.create": self._on_response_create,
            "response.cancel": self._on_response_cancel,
            "output_audio_buffer.clear": self._on_output_audio_clear,
        }
        self.input_audio.configure(self.session, rms_at_half=server.vad_rms_at_half)

    @property
    def conversation(self) -> list[dict[str, Any]]:
        """The conversation items in order (a copy of the list; items are the live dicts)."""
        return self._conversation.items()

    @property
    def active_response_id(self) -> str | None:
        """Id of the response writing to the default conversation, if any."""
        return self._active.response_id if self._active is not None else None

    @property
    def input_audio_ms(self) -> int:
        """Milliseconds of user audio committed so far."""
        return self.input_audio.committed_ms

    def add_response(self, *responses: ScriptedResponse) -> None:
        """Queue responses for this connection only; they take precedence over the server's queue."""
        self.responses.extend(responses)

    # -- sending -------------------------------------------------------------------------------

    async def send(self, event: dict[str, Any]) -> None:
        """Send one server event (an ``event_id`` is added when missing), validating it when asked."""
        if "event_id" not in event:
            event["event_id"] = new_id("event")
        self.server.check_event(self, event, direction="sent")
        self.server_events.append(event)
        await self.websocket.send(json.dumps(event, separators=(",", ":")))

    async def send_error(
        self, code: str, message: str, *, param: str | None = None, error_type: str = "invalid_request_error",
        client_event_id: str | None = None,
    ) -> None:
        """Send a GA ``error`` event."""
        await self.send(error_event(code, message, param=param, error_type=error_type,
                                    client_event_id=client_event_id))

    async def open(self) -> None:
        """Greet the client as the real server does."""
        await self.send({"type": "session.created", "session": copy.deepcopy(self.session)})
        await self.send({"type": "conversation.created",
                         "conversation": {"id": self.conversation_id, "object": "realtime.conversation"}})

    # -- receiving -----------------------------------------------------------------------------

    async def handle(self, message: str | bytes) -> None:
        """Process one WebSocket message from the client."""
        if isinstance(message, bytes):
            await self.send_error("invalid_json", "Binary frames are not supported; send JSON text frames.")
            return
        try:
            event = json.loads(message)
        except ValueError as exc:
            await self.send_error("invalid_json", f"We could not parse the JSON body of your request: {exc}")
            return
        if not isinstance(event, dict):
            await self.send_error("invalid_type", "A client event must be a JSON object.")
            return
        self.server.record_client_event(self, event)
        self.server.check_event(self, event, direction="received")
        client_event_id = event.get("event_id") if isinstance(event.get("event_id"), str) else None
        try:
            kind = event.get("type")
            if kind is None:
                raise ProtocolError("missing_required_parameter", "Missing required parameter: 'type'.", param="type")
            handler = self._handlers.get(kind) if isinstance(kind, str) else None
            if handler is None:
                raise ProtocolError(
                    "invalid_value",
                    f"Invalid value: '{kind}'. Supported values are: {', '.join(self._handlers)}.",
                    param="type",
                )
            await handler(event)
        except ProtocolError as exc:
            await self.send_error(exc.code, exc.message, param=exc.param, error_type=exc.error_type,
                                  client_event_id=client_event_id)
        except ConnectionClosed:
            raise
        except Exception as exc:  # A fake-server bug must surface in the test, not kill the connection.
            logger.exception("fake server failed handling %s", event.get("type"))
            self.server.internal_errors.append(f"{event.get('type')}: {exc!r}")
            await self.send_error("server_error", "The fake server failed; see server.internal_errors.",
                                  error_type="server_error", client_event_id=client_event_id)
        finally:
            self.server.notify()

    # -- session -------------------------------------------------------------------------------

    async def _on_session_update(self, event: dict[str, Any]) -> None:
        self.session = apply_session_update(self.session, event.get("session"), voice_locked=self.voice_locked,
                                            model_locked=self.call_id is None)
        self.input_audio.configure(self.session, rms_at_half=self.server.vad_rms_at_half)
        await self.send({"type": "session.updated", "session": copy.deepcopy(self.session)})

    async def _on_output_audio_clear(self, event: dict[str, Any]) -> None:
        raise ProtocolError("invalid_value", "output_audio_buffer.clear is only supported for WebRTC and SIP.",
                            param="type")

    # -- conversation --------------------------------------------------------------------------

    def add_conversation_item(self, item: dict[str, Any]) -> str | None:
        """Append a server-made item; returns the previous item id."""
        return self._conversation.insert(item)

    async def _on_item_create(self, event: dict[str, Any]) -> None:
        item = normalise_client_item(event.get("item"))
        previous_id = event.get("previous_item_id")
        previous = self._conversation.insert(item, previous_id, append=previous_id is None)
        await self.send({"type": "conversation.item.added", "previous_item_id": previous, "item": copy.deepcopy(item)})
        await self.send({"type": "conversation.item.done", "previous_item_id": previous, "item": copy.deepcopy(item)})

    def _existing_item(self, event: dict[str, Any]) -> dict[str, Any]:
        item_id = event.get("item_id")
        if item_id is None:
            raise ProtocolError("missing_required_parameter", "Missing required parameter: 'item_id'.",
                                param="item_id")
        item = self._conversation.get(item_id)
        if item is None:
            raise ProtocolError("invalid_value", f"Item {item_id!r} not found in the conversation.", param="item_id")
        return item

    async def _on_item_retrieve(self, event: dict[str, Any]) -> None:
        item = self._existing_item(event)
        await self.send({"type": "conversation.item.retrieved", "item": copy.deepcopy(item)})

    async def _on_item_delete(self, event: dict[str, Any]) -> None:
        item = self._existing_item(event)
        self._conversation.delete(item["id"])
        await self.send({"type": "conversation.item.deleted", "item_id": item["id"]})

    async def _on_item_truncate(self, event: dict[str, Any]) -> None:
        item = self._existing_item(event)
        if item.get("type") != "message" or item.get("role") != "assistant":
            raise ProtocolError("invalid_value", "Only assistant messages can be truncated.", param="item_id")
        content_index, audio_end_ms = event.get("content_index"), event.get("audio_end_ms")
        if content_index != 0:
            raise ProtocolError("invalid_value", "content_index must be 0.", param="content_index")
        if not isinstance(audio_end_ms, int) or isinstance(audio_end_ms, bool) or audio_end_ms < 0:
            raise ProtocolError("invalid_value", "audio_end_ms must be a non-negative integer.", param="audio_end_ms")
        sent_ms = self.item_audio_ms.get(item["id"], 0)
        if audio_end_ms > sent_ms:
            raise ProtocolError(
                "invalid_value",
                f"Audio content of {sent_ms}ms is already shorter than {audio_end_ms}ms.",
                param="audio_end_ms",
            )
        for part in item.get("content") or ():
            if isinstance(part, dict) and "transcript" in part:
                part["transcript"] = ""
        self.item_audio_ms[item["id"]] = audio_end_ms
        await self.send({"type": "conversation.item.truncated", "item_id": item["id"], "content_index": 0,
                         "audio_end_ms": audio_end_ms})

    # -- responses -----------------------------------------------------------------------------

    async def _on_response_create(self, event: dict[str, Any]) -> None:
        params = event.get("response") or {}
        if not isinstance(params, dict):
            raise ProtocolError("invalid_type", "'response' must be an object.", param="response")
        if params.get("conversation", "auto") not in ("auto", "none"):
            raise ProtocolError("invalid_value", "conversation must be 'auto' or 'none'.", param="response.conversation")
        modalities = params.get("output_modalities")
        if modalities is not None and modalities not in (["audio"], ["text"]):
            raise ProtocolError("invalid_value", "output_modalities must be ['audio'] or ['text'].",
                                param="response.output_modalities")
        if params.get("conversation") != "none" and self._active is not None:
            raise ProtocolError(
                "conversation_already_has_active_response",
                f"Conversation already has an active response in progress: {self._active.response_id}. "
                "Wait until the response is finished before creating a new one.",
            )
        self.start_response(params)

    def start_response(self, params: dict[str, Any]) -> ActiveResponse:
        """Start streaming the next scripted response as a named task."""
        script = self.responses.popleft() if self.responses else self.server.next_response()
        response = ActiveResponse(connection=self, script=script, params=params)
        if response.out_of_band:
            self._out_of_band.add(response)
        else:
            self._active = response
        task = asyncio.create_task(response.run(), name=f"fake-realtime-response-{response.response_id}")
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return response

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None and not isinstance(exc, ConnectionClosed):
            logger.error("fake response task %s failed: %r", task.get_name(), exc)
            self.server.internal_errors.append(f"{task.get_name()}: {exc!r}")

    async def interrupt_active_response(self) -> None:
        """Cancel the default-conversation response because the user started speaking; wait for its end."""
        if self._active is not None:
            active = self._active
            active.cancel("turn_detected")
            await active.finished.wait()

    def response_finished(self, response: ActiveResponse) -> None:
        """Forget a response once its last event went out (or its task ended)."""
        if self._active is response:
            self._active = None
        self._out_of_band.discard(response)
        self.server.notify()

    async def _on_response_cancel(self, event: dict[str, Any]) -> None:
        response_id = event.get("response_id")
        if response_id is None:
            target = self._active
        else:
            running = [self._active, *self._out_of_band] if self._active is not None else list(self._out_of_band)
            target = next((r for r in running if r.response_id == response_id), None)
        if target is None or target.cancel_reason is not None:
            raise ProtocolError("response_cancel_not_active", "Cancellation failed: no active response found.")
        target.cancel("client_cancelled")
        # The real server finishes the cancelled response before it reads the next client event.
        await target.finished.wait()

    # -- teardown ------------------------------------------------------------------------------

    async def stop_tasks(self) -> None:
        """Cancel every response task of this connection and wait for them to end."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)

    def abort(self) -> None:
        """Drop the TCP connection without a close frame."""
        for task in list(self._tasks):
            task.cancel()
        transport = self.websocket.transport
        if transport is not None:
            transport.abort()
