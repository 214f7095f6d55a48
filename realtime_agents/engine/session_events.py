"""How a session reacts to server events: audio, transcripts, items, responses, tools, errors."""
from __future__ import annotations

import base64
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from .events import (
    AgentEndEvent,
    AgentStartEvent,
    AudioEndEvent,
    AudioEvent,
    ErrorEvent,
    HistoryAddedEvent,
    HistoryUpdatedEvent,
    InputAudioTimeoutTriggeredEvent,
    RawModelEvent,
    SpeechStartedEvent,
    SpeechStoppedEvent,
    TranscriptDeltaEvent,
    TranscriptDoneEvent,
    UsageEvent,
)
from .handoffs import Handoff, as_handoff
from .interruptions import InterruptionHandling
from .audio import normalize_audio_format
from .config import turn_detection_creates_responses, turn_detection_interrupts
from .model import ConnectionStatusEvent, ModelEvent, TransportErrorEvent

if TYPE_CHECKING:
    from .agent import AgentSpec

logger = logging.getLogger("realtime_agents.engine.session_events")

BENIGN_ERROR_CODES = frozenset({"response_cancel_not_active"})


class ServerEventHandlers(InterruptionHandling):
    """Mixin of `Session`: one handler per GA server event type."""

    def _init_event_state(self) -> None:
        self._audio_seen = False
        # From our own settings first: the server's session.updated may arrive after the first input.
        self._server_interrupts = turn_detection_interrupts(self._base_settings)
        self._server_creates = turn_detection_creates_responses(self._base_settings)
        self._muted_responses: set[str] = set()
        self._cancel_next_server_response = False
        self._response_agents: dict[str, AgentSpec] = {}
        self._response_items: dict[str, list[str]] = {}
        self._clock = time.monotonic
        self._sync_handlers: dict[str, Callable[[dict[str, Any]], None]] = {
            "response.output_audio.delta": self._on_audio_delta,
            "response.output_audio_transcript.delta": self._on_assistant_delta,
            "response.output_text.delta": self._on_assistant_delta,
            "conversation.item.input_audio_transcription.delta": self._on_user_delta,
            "response.output_audio.done": self._on_audio_done,
            "input_audio_buffer.speech_stopped": self._on_speech_stopped,
            "input_audio_buffer.timeout_triggered": self._on_timeout_triggered,
            "conversation.item.deleted": self._on_item_deleted,
        }
        self._async_handlers: dict[str, Callable[[dict[str, Any]], Awaitable[None]]] = {
            "session.created": self._on_session,
            "session.updated": self._on_session,
            "conversation.item.added": self._on_item,
            "conversation.item.done": self._on_item,
            "conversation.item.retrieved": self._on_item,
            "response.output_item.added": self._on_output_item,
            "response.output_item.done": self._on_output_item,
            "response.output_audio_transcript.done": self._on_assistant_done,
            "response.output_text.done": self._on_assistant_done,
            "conversation.item.input_audio_transcription.completed": self._on_user_transcript,
            "conversation.item.input_audio_transcription.failed": self._on_transcription_failed,
            "input_audio_buffer.speech_started": self._on_speech_started,
            "response.created": self._on_response_created,
            "response.done": self._on_response_done,
            "error": self._on_error,
        }

    async def on_event(self, event: ModelEvent) -> None:
        """Model listener entry point: route one event (hot path for audio deltas)."""
        if self._run_config.include_raw_events:
            self.emit(RawModelEvent(data=event))
        try:
            if type(event) is dict:
                kind = event.get("type")
                sync_handler = self._sync_handlers.get(kind)  # type: ignore[arg-type]
                if sync_handler is not None:
                    sync_handler(event)
                    return
                async_handler = self._async_handlers.get(kind)  # type: ignore[arg-type]
                if async_handler is not None:
                    await async_handler(event)
            elif isinstance(event, ConnectionStatusEvent) and event.status == "disconnected":
                await self._on_disconnected(event)
            elif isinstance(event, TransportErrorEvent):
                self.emit(ErrorEvent(error={"code": "transport_error", "message": str(event.exception)}))
                self._fail(event.exception)
        except Exception as exc:  # noqa: BLE001 - the reader must outlive any one bad event
            # A malformed server event must not kill the reader: report it and go on.
            kind = event.get("type") if isinstance(event, dict) else type(event).__name__
            logger.warning("could not handle %s: %s", kind, type(exc).__name__)
            self.emit(ErrorEvent(error={"code": "invalid_server_event", "message": f"could not handle {kind}: {exc!r}"}))

    # -- audio and transcripts (hot path) ----------------------------------------------------

    def _on_audio_delta(self, event: dict[str, Any]) -> None:
        response_id = event.get("response_id")
        if response_id in self._muted_responses:
            return
        data = base64.b64decode(event["delta"])
        item_id = event["item_id"]
        content_index = event.get("content_index", 0)
        self._ledger.on_audio(item_id, content_index, len(data), response_id, self._clock())
        self._audio_seen = True
        self.emit(AudioEvent(data=data, item_id=item_id, content_index=content_index, response_id=response_id))

    def _on_assistant_delta(self, event: dict[str, Any]) -> None:
        response_id = event.get("response_id")
        if response_id in self._muted_responses:
            return
        item_id, delta = event["item_id"], event.get("delta", "")
        agent = self._response_agents.get(response_id or "", self._current_agent)
        self._history.append_assistant_delta(item_id, delta, response_id=response_id, agent_name=agent.name)
        self.emit(TranscriptDeltaEvent(role="assistant", item_id=item_id, delta=delta, response_id=response_id))
        self._guardrails.on_assistant_text(agent, response_id=response_id, item_id=item_id,
                                           length=self._history.assistant_text_length(item_id))

    def _on_user_delta(self, event: dict[str, Any]) -> None:
        self.emit(TranscriptDeltaEvent(role="user", item_id=event["item_id"], delta=event.get("delta", "")))

    def _on_audio_done(self, event: dict[str, Any]) -> None:
        item_id = event["item_id"]
        self._history.add_audio_ms(item_id, self._ledger.received_ms(item_id))
        if event.get("response_id") not in self._muted_responses:
            self.emit(AudioEndEvent(item_id=item_id, content_index=event.get("content_index", 0)))

    async def _on_assistant_done(self, event: dict[str, Any]) -> None:
        response_id = event.get("response_id")
        text = event.get("transcript", event.get("text"))
        if response_id in self._muted_responses or text is None:
            return
        self.emit(TranscriptDoneEvent(role="assistant", item_id=event["item_id"], transcript=text, response_id=response_id))

    async def _on_user_transcript(self, event: dict[str, Any]) -> None:
        item_id, transcript = event["item_id"], event.get("transcript") or ""
        item, added = self._history.set_user_transcript(item_id, transcript)
        self._emit_item(item, added)
        self.emit(TranscriptDoneEvent(role="user", item_id=item_id, transcript=transcript))
        self._guardrails.check_input(self._current_agent, item_id=item_id, text=transcript)

    async def _on_transcription_failed(self, event: dict[str, Any]) -> None:
        error = dict(event.get("error") or {})
        error.setdefault("code", "transcription_failed")
        error["item_id"] = event.get("item_id")
        self.emit(ErrorEvent(error=error))

    # -- turn detection -------------------------------------------------------------------------

    async def _on_speech_started(self, event: dict[str, Any]) -> None:
        self.emit(SpeechStartedEvent(item_id=event.get("item_id"), audio_start_ms=event.get("audio_start_ms")))
        await self._interrupt(reason="speech", force_cancel=False)

    def _on_speech_stopped(self, event: dict[str, Any]) -> None:
        self.emit(SpeechStoppedEvent(item_id=event.get("item_id"), audio_end_ms=event.get("audio_end_ms")))

    def _on_timeout_triggered(self, event: dict[str, Any]) -> None:
        self.emit(InputAudioTimeoutTriggeredEvent(item_id=event.get("item_id")))

    # -- items ----------------------------------------------------------------------------------

    def _emit_item(self, item: Any, added: bool) -> None:
        if item is None:
            return
        if added:
            self.emit(HistoryAddedEvent(item=item))
        else:
            self.emit(HistoryUpdatedEvent(history=self._history.items(), item=item))

    async def _on_item(self, event: dict[str, Any]) -> None:
        item = event.get("item") or {}
        if item.get("type") == "function_call":
            return  # tool call items are recorded from response.output_item events
        agent_name = self._current_agent.name if item.get("role") == "assistant" else None
        self._history_upsert(item, event.get("previous_item_id"), agent_name)

    def _on_item_deleted(self, event: dict[str, Any]) -> None:
        if self._history.delete(event.get("item_id", "")):
            self.emit(HistoryUpdatedEvent(history=self._history.items()))

    async def _on_output_item(self, event: dict[str, Any]) -> None:
        item = event.get("item") or {}
        response_id = event.get("response_id")
        agent = self._response_agents.get(response_id or "", self._current_agent)
        if item.get("type") == "function_call":
            stored, added = self._history.add_tool_call(
                item_id=item.get("id", ""), call_id=item.get("call_id", ""), name=item.get("name", ""),
                arguments=item.get("arguments", ""), agent_name=agent.name)
            self._emit_item(stored, added)
            if event["type"] == "response.output_item.done" and item.get("status", "completed") == "completed":
                self._dispatch_call(agent, item)
            return
        if item.get("type") == "message" and response_id:
            self._response_items.setdefault(response_id, [])
            if item.get("id") and item["id"] not in self._response_items[response_id]:
                self._response_items[response_id].append(item["id"])
        self._history_upsert(item, event.get("previous_item_id"), agent.name)

    def _dispatch_call(self, agent: AgentSpec, item: dict[str, Any]) -> None:
        name, call_id, arguments = item.get("name", ""), item.get("call_id", ""), item.get("arguments") or "{}"
        target = self._dispatch.get(name) if agent is self._current_agent else _lookup(agent, name)
        if isinstance(target, Handoff):
            if self._tools.claim(call_id):
                self.spawn(self._run_handoff(agent, target, call_id, arguments), name=f"realtime-handoff-{call_id}")
            return
        self._tools.handle_call(agent=agent, tool=target, name=name, call_id=call_id, arguments=arguments)

    # -- responses ------------------------------------------------------------------------------

    async def _on_response_created(self, event: dict[str, Any]) -> None:
        response = event.get("response") or {}
        response_id = response.get("id")
        ours = self._sequencer.on_response_created(response)
        self._response_agents[response_id or ""] = self._current_agent
        self.emit(AgentStartEvent(agent=self._current_agent, response_id=response_id))
        if self._cancel_next_server_response and response_id:
            self._cancel_next_server_response = False
            if not ours:
                # The server answered a turn an input guardrail blocked: that answer must not be heard.
                self._muted_responses.add(response_id)
                await self._sequencer.cancel(response_id)

    async def _on_response_done(self, event: dict[str, Any]) -> None:
        response = event.get("response") or {}
        response_id = response.get("id")
        usage = response.get("usage")
        if usage:
            self.run_context.usage.add(usage)
            self.emit(UsageEvent(response_id=response_id, usage=usage))
        for item in response.get("output") or []:
            if item.get("type") == "function_call" and item.get("status", "completed") == "completed":
                self._dispatch_call(self._response_agents.get(response_id or "", self._current_agent), item)
        agent = self._response_agents.pop(response_id or "", self._current_agent)
        item_ids = self._response_items.pop(response_id or "", [])
        if response_id not in self._muted_responses:
            self._guardrails.on_response_done(agent, response_id=response_id, item_ids=item_ids)
        self._muted_responses.discard(response_id or "")
        self.emit(AgentEndEvent(agent=agent, response_id=response_id, status=response.get("status")))
        await self._sequencer.on_response_done(response_id)

    async def _on_session(self, event: dict[str, Any]) -> None:
        session = event.get("session") or {}
        audio = session.get("audio") or {}
        output_format = (audio.get("output") or {}).get("format")
        if output_format:
            fmt = normalize_audio_format(output_format)
            self._ledger.set_format(fmt)
            tracker = self._model_config.playback_tracker
            if tracker is not None:
                tracker.set_audio_format(fmt)
        # session.created carries the server's defaults, not ours (our session.update is on its way).
        if "input" in audio and event.get("type") == "session.updated":
            detection = (audio.get("input") or {}).get("turn_detection")
            self._server_interrupts = bool(detection and detection.get("interrupt_response", True))
            self._server_creates = bool(detection and detection.get("create_response", True))

    def _server_creates_responses(self) -> bool:
        return self._server_creates

    async def _on_error(self, event: dict[str, Any]) -> None:
        error = dict(event.get("error") or {})
        if await self._sequencer.on_error(error) or error.get("code") in BENIGN_ERROR_CODES:
            return
        logger.info("server error %s: %s", error.get("code"), error.get("message"))
        self.emit(ErrorEvent(error=error))

    async def _on_disconnected(self, event: ConnectionStatusEvent) -> None:
        if self._closing:
            return
        if not event.unexpected:
            logger.info("the server closed the session normally")
            self._closing = True
            self.emit_end()
            self.spawn(self.close(), name="realtime-session-close-after-server-close")
            return
        self.spawn(self._reconnect(f"connection lost (code {event.close_code})"), name="realtime-session-reconnect")


def _lookup(agent: AgentSpec, name: str) -> Any:
    """A tool or handoff of an agent that is no longer current (calls made before a handoff)."""
    for tool in agent.tools:
        if tool.name == name:
            return tool
    for target in agent.handoffs:
        handoff = as_handoff(target)
        if handoff.tool_name == name:
            return handoff
    return None
