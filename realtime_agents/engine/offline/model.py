"""The offline model transport: GA Realtime server events from local VAD, Whisper, a brain and TTS."""
from __future__ import annotations

import asyncio
import copy
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ..model import ConnectionStatusEvent, Model, TransportError
from .brain import Brain, BrainContext, ChatCompletionsBrain, completions_url
from .conversation import ServerConversation
from .engines import OfflineEngines, TtsChoice, shared_engines
from .input import MIN_COMMIT_MS, InputAudio
from .recognition import recognise_turn
from .responder import OfflineResponse
from .router import Router
from .state import ClientEventError, apply_session_update, default_session, new_id
from .vad import VadEvent

if TYPE_CHECKING:
    from ..config import ModelConfig

logger = logging.getLogger("realtime_agents.engine.offline.model")

QUEUE_LIMIT = 10_000


class OfflineModel(Model):
    """A realtime model with no network: speaks the GA protocol to the session, runs everything locally.

    The brain is `brain` if given, else an OpenAI-compatible chat-completions endpoint at `chat_url`
    (bearer `chat_api_key`, else the model config's string `api_key`), else the deterministic
    `Router` (not a language model).
    """

    def __init__(self, *, engines: OfflineEngines | None = None, brain: Brain | None = None,
                 chat_url: str | None = None, chat_model: str = "local", chat_api_key: str | None = None,
                 tts: TtsChoice = "auto",
                 max_audio_lead_s: float = 1.0) -> None:
        super().__init__()
        if max_audio_lead_s < 0:
            raise ValueError(f"max_audio_lead_s must be >= 0, got {max_audio_lead_s!r}")
        if chat_url is not None:
            completions_url(chat_url)  # a bad URL fails here, where it is written
        self._engines = engines
        self._brain_given = brain
        self._chat_url = chat_url
        self._chat_model = chat_model
        self._chat_api_key = chat_api_key
        self._tts: TtsChoice = tts
        self._lead = max_audio_lead_s
        self._connected = False
        self._tasks: set[asyncio.Task[None]] = set()
        self.brain: Brain | None = None
        self.session: dict[str, Any] = {}
        self.conversation = ServerConversation()
        self._readings: dict[str, tuple[str, ...]] = {}
        self._inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue(QUEUE_LIMIT)
        self._audio: asyncio.Queue[tuple[str, Any]] = asyncio.Queue(QUEUE_LIMIT)
        self._turns: asyncio.Queue[tuple[str, Any]] = asyncio.Queue(QUEUE_LIMIT)
        self._input: InputAudio | None = None
        self._active: OfflineResponse | None = None
        self._active_task: asyncio.Task[None] | None = None
        self._response_requested = False
        self._speech_item: str | None = None
        self._speech_start_ms = 0

    @property
    def connected(self) -> bool:
        """Whether the transport is running."""
        return self._connected

    @property
    def engines(self) -> OfflineEngines | None:
        """The loaded models (after connect)."""
        return self._engines

    async def connect(self, config: ModelConfig, *, model_name: str | None = None) -> None:
        """Load the models (once per process), pick the brain, and greet with session.created."""
        if self._connected:
            raise TransportError("already connected")
        if self._engines is None:
            self._engines = await asyncio.to_thread(shared_engines, self._tts)
        self.brain = self._brain_given or self._pick_brain(config)
        self.session = default_session(model_name or "offline")
        self.conversation = ServerConversation()
        # A reconnect starts clean, as a new server session would.
        self._inbox, self._audio, self._turns = asyncio.Queue(QUEUE_LIMIT), asyncio.Queue(QUEUE_LIMIT), asyncio.Queue(QUEUE_LIMIT)
        self._active = self._active_task = None
        self._response_requested, self._speech_item = False, None
        self._input = InputAudio(self._engines.vad)
        self._input.configure(self.session)
        self._connected = True
        for loop, name in ((self._client_loop, "client"), (self._input_loop, "input"), (self._turn_loop, "turns")):
            self._spawn(loop(), name=f"realtime-offline-{name}")
        await self._emit(ConnectionStatusEvent(status="connected"))
        await self._send({"type": "session.created", "session": copy.deepcopy(self.session)})

    def _pick_brain(self, config: ModelConfig) -> Brain:
        url = self._chat_url
        if url is None:
            return Router()
        api_key = self._chat_api_key or (config.api_key if isinstance(config.api_key, str) else None)
        logger.info("offline model brain: chat completions at %s", url.split("?")[0])
        return ChatCompletionsBrain(url=url, model=self._chat_model, api_key=api_key)

    def _spawn(self, coro: Any, *, name: str) -> asyncio.Task[None]:
        task = asyncio.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error("task %s failed", task.get_name(), exc_info=task.exception())

    async def send_event(self, event: Mapping[str, Any]) -> None:
        """Queue one client event; it is handled in order by the transport's own task."""
        if not self._connected:
            raise TransportError("not connected")
        if not isinstance(event, Mapping):
            raise TransportError(f"a client event must be a mapping, not {type(event).__name__}")
        try:
            self._inbox.put_nowait(dict(event))
        except asyncio.QueueFull as exc:
            raise TransportError("the offline model is overloaded (client event queue full)") from exc

    async def close(self) -> None:
        """Stop every task and forget the conversation; idempotent."""
        self._connected = False
        current = asyncio.current_task()
        tasks = [t for t in self._tasks if t is not current]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=5.0)
        self._active = self._active_task = None
        close = getattr(self.brain, "aclose", None)
        if close is not None:
            await close()

    async def _send(self, event: dict[str, Any]) -> None:
        event.setdefault("event_id", new_id("event"))
        await self._emit(event)

    async def _error(self, code: str, message: str, *, param: str | None = None,
                     event_id: str | None = None) -> None:
        await self._send({"type": "error", "error": {"type": "invalid_request_error", "code": code,
                                                     "message": message, "param": param, "event_id": event_id}})

    # -- client events ----------------------------------------------------------------------------

    async def _client_loop(self) -> None:
        handlers = {
            "session.update": self._on_session_update, "input_audio_buffer.append": self._on_append,
            "input_audio_buffer.commit": self._on_commit, "input_audio_buffer.clear": self._on_clear,
            "conversation.item.create": self._on_item_create, "conversation.item.delete": self._on_item_delete,
            "conversation.item.retrieve": self._on_item_retrieve,
            "conversation.item.truncate": self._on_truncate, "response.create": self._on_response_create,
            "response.cancel": self._on_response_cancel,
        }
        while True:
            event = await self._inbox.get()
            kind = event.get("type")
            handler = handlers.get(kind) if isinstance(kind, str) else None
            try:
                if handler is None:
                    raise ClientEventError("invalid_value", f"Invalid value: {kind!r}. Supported values are: "
                                           f"{', '.join(handlers)}.", param="type")
                await handler(event)
            except ClientEventError as exc:
                await self._error(exc.code, exc.message, param=exc.param, event_id=event.get("event_id"))
            except Exception as exc:  # noqa: BLE001 - one bad event must not stop the transport
                logger.warning("offline model failed handling %s", kind, exc_info=exc)
                await self._send({"type": "error", "error": {
                    "type": "server_error", "code": "server_error", "param": None,
                    "message": f"The offline model failed handling {kind}: {type(exc).__name__}",
                    "event_id": event.get("event_id")}})

    async def _on_session_update(self, event: dict[str, Any]) -> None:
        self.session = apply_session_update(self.session, event.get("session"))
        assert self._input is not None
        self._input.configure(self.session)
        await self._send({"type": "session.updated", "session": copy.deepcopy(self.session)})

    async def _on_append(self, event: dict[str, Any]) -> None:
        assert self._input is not None
        data = self._input.decode(event.get("audio"))
        if data:
            await self._audio.put(("audio", data))

    async def _on_commit(self, event: dict[str, Any]) -> None:
        await self._audio.put(("commit", b""))

    async def _on_clear(self, event: dict[str, Any]) -> None:
        await self._audio.put(("clear", b""))

    async def _on_item_create(self, event: dict[str, Any]) -> None:
        item, previous = self.conversation.create(event.get("item"), event.get("previous_item_id"))
        for kind in ("conversation.item.added", "conversation.item.done"):
            await self._send({"type": kind, "previous_item_id": previous, "item": copy.deepcopy(item)})

    async def _on_item_delete(self, event: dict[str, Any]) -> None:
        item = self.conversation.delete(event.get("item_id"))
        await self._send({"type": "conversation.item.deleted", "item_id": item["id"]})

    async def _on_item_retrieve(self, event: dict[str, Any]) -> None:
        item = self.conversation.find(event.get("item_id"))
        await self._send({"type": "conversation.item.retrieved", "item": copy.deepcopy(item)})

    async def _on_truncate(self, event: dict[str, Any]) -> None:
        item = self.conversation.truncate(event.get("item_id"), event.get("content_index", 0),
                                          event.get("audio_end_ms"))
        await self._send({"type": "conversation.item.truncated", "item_id": item["id"], "content_index": 0,
                          "audio_end_ms": self.conversation.audio_ms[item["id"]]})

    async def _on_response_create(self, event: dict[str, Any]) -> None:
        params = event.get("response") or {}
        if not isinstance(params, dict):
            raise ClientEventError("invalid_type", "'response' must be an object.", param="response")
        if self._active is not None or self._response_requested:
            active = self._active.id if self._active is not None else "pending"
            raise ClientEventError("conversation_already_has_active_response",
                                   f"Conversation already has an active response in progress: {active}.")
        self._response_requested = True
        # Through the audio queue, so a commit sent just before is transcribed before the answer starts.
        await self._audio.put(("response", params))

    async def _on_response_cancel(self, event: dict[str, Any]) -> None:
        active = self._active
        wanted = event.get("response_id")
        if active is None or active.cancel_reason is not None or (wanted is not None and wanted != active.id):
            raise ClientEventError("response_cancel_not_active", "Cancellation failed: no active response found.")
        active.cancel("client_cancelled")

    # -- input audio and turns ------------------------------------------------------------------

    async def _input_loop(self) -> None:
        assert self._input is not None and self._engines is not None
        audio = self._input
        held: tuple[str, Any] | None = None
        while True:
            kind, data = held or await self._audio.get()
            held = None
            if kind == "audio":
                # Appends that queued up meanwhile go to one worker-thread call: fewer hops under load.
                batch = [data]
                while not self._audio.empty():
                    nxt = self._audio.get_nowait()
                    if nxt[0] != "audio":
                        held = nxt
                        break
                    batch.append(nxt[1])
                for vad_event in await asyncio.to_thread(audio.process, b"".join(batch)):
                    await self._on_vad(vad_event)
            elif kind == "response":
                await self._turns.put(("response", data))
            elif kind == "clear":
                audio.clear()
                self._speech_item = None
                await self._send({"type": "input_audio_buffer.cleared"})
            elif audio.buffered_ms < MIN_COMMIT_MS:
                await self._error("input_audio_buffer_commit_empty", "Error committing input audio buffer: buffer "
                                  f"too small. Expected at least {MIN_COMMIT_MS}ms of audio, but buffer only has "
                                  f"{audio.buffered_ms}ms of audio.")
            else:
                item_id = self._speech_item or new_id("item")
                self._speech_item = None
                await self._commit(item_id, audio.take_all(), automatic=False)

    async def _on_vad(self, event: VadEvent) -> None:
        assert self._input is not None
        detection = self.session["audio"]["input"]["turn_detection"] or {}
        if event.kind == "start":
            self._speech_item, self._speech_start_ms = new_id("item"), event.ms
            await self._send({"type": "input_audio_buffer.speech_started", "audio_start_ms": event.ms,
                              "item_id": self._speech_item})
            if detection.get("interrupt_response", True):
                await self._interrupt_active()
            return
        item_id = self._speech_item or new_id("item")
        self._speech_item = None
        await self._send({"type": "input_audio_buffer.speech_stopped", "audio_end_ms": event.ms, "item_id": item_id})
        segment = self._input.take(self._speech_start_ms, event.ms)
        await self._commit(item_id, segment, automatic=bool(detection.get("create_response", True)))

    async def _interrupt_active(self) -> None:
        active, task = self._active, self._active_task
        if active is None or task is None:
            return
        active.cancel("turn_detected")
        # Wait (bounded) so response.done(cancelled) precedes what the new turn produces.
        await asyncio.wait({task}, timeout=5.0)

    async def _commit(self, item_id: str, pcm16k: bytes, *, automatic: bool) -> None:
        item = {"id": item_id, "object": "realtime.item", "type": "message", "status": "completed", "role": "user",
                "content": [{"type": "input_audio", "transcript": None}]}
        previous = self.conversation.insert(item)
        await self._send({"type": "input_audio_buffer.committed", "item_id": item_id, "previous_item_id": previous})
        await self._send({"type": "conversation.item.added", "previous_item_id": previous,
                          "item": copy.deepcopy(item)})
        await self._turns.put(("turn", (item, previous, pcm16k, automatic)))

    async def _turn_loop(self) -> None:
        while True:
            kind, payload = await self._turns.get()
            if kind == "response":
                self._response_requested = False
                self._start_response(payload)
            else:
                await self._transcribe(*payload)

    async def _transcribe(self, item: dict[str, Any], previous: str | None, pcm16k: bytes, automatic: bool) -> None:
        assert self._engines is not None
        heard = await recognise_turn(self._engines.recognizer, self.session, self.brain, pcm16k)
        text = heard.text
        # The brain may reconsider the newest turn's other readings (the router does, after a handoff).
        self._readings = {item["id"]: heard.readings}
        seconds = round(len(pcm16k) / 32000, 3)
        item["content"][0]["transcript"] = text
        if self.session["audio"]["input"]["transcription"] is not None:
            ids = {"item_id": item["id"], "content_index": 0}
            if text:
                await self._send({"type": "conversation.item.input_audio_transcription.delta", **ids, "delta": text})
            await self._send({"type": "conversation.item.input_audio_transcription.completed", **ids,
                              "transcript": text, "usage": {"type": "duration", "seconds": seconds}})
        await self._send({"type": "conversation.item.done", "previous_item_id": previous,
                          "item": copy.deepcopy(item)})
        # Nothing intelligible (noise, a cough): no answer, as if the turn had not happened.
        if automatic and text and self._active is None and not self._response_requested:
            self._start_response({})

    def _start_response(self, params: dict[str, Any]) -> None:
        assert self._engines is not None and self.brain is not None
        session = self.session
        context = BrainContext(instructions=str(session.get("instructions") or ""),
                               tools=tuple(copy.deepcopy(session.get("tools") or [])),
                               items=tuple(copy.deepcopy(self.conversation.items)), readings=dict(self._readings))
        fallback = None if isinstance(self.brain, Router) else Router()
        response = OfflineResponse(params=params, session=session, context=context, brain=self.brain,
                                   fallback=fallback, synthesizer=self._engines.synthesizer, send=self._send,
                                   add_item=self.conversation.insert, audio_ms=self.conversation.audio_ms,
                                   max_audio_lead_s=self._lead)
        self._active = response
        self._active_task = self._spawn(self._run_response(response), name=f"realtime-offline-{response.id}")

    async def _run_response(self, response: OfflineResponse) -> None:
        try:
            await response.run()
        finally:
            if self._active is response:
                self._active = self._active_task = None
