"""One connection's input audio buffer: appends, server VAD turns, commits and transcription."""
from __future__ import annotations

import base64
import binascii
import copy
import logging
from typing import TYPE_CHECKING, Any

from .audio import bytes_per_ms
from .protocol import ProtocolError, new_id
from .session_config import vad_settings
from .vad import EnergyVad, VadEvent

if TYPE_CHECKING:
    from .connection import FakeConnection

logger = logging.getLogger("realtime_agents.engine.testing.input_audio")

_MIN_COMMIT_MS = 100


class InputAudioBuffer:
    """Counts buffered audio (without keeping it), runs the energy VAD and commits user turns."""

    def __init__(self, connection: FakeConnection) -> None:
        self._connection = connection
        self.written_ms = 0.0
        self.buffered_ms = 0.0
        self.committed_ms = 0
        self._bytes_per_ms = 48
        self._vad: EnergyVad | None = None
        self._vad_key: tuple[Any, ...] | None = None
        self._speech_item_id: str | None = None

    def configure(self, session: dict[str, Any], *, rms_at_half: float) -> None:
        """Follow the session's input format and turn detection; VAD state survives unrelated updates."""
        input_format = session["audio"]["input"]["format"]["type"]
        self._bytes_per_ms = bytes_per_ms(input_format)
        settings = vad_settings(session)
        key = (input_format, settings)
        if key == self._vad_key:
            return
        self._vad_key = key
        self._vad = None
        if settings is not None:
            threshold, silence_ms, prefix_ms = settings
            self._vad = EnergyVad(format_type=input_format, threshold=threshold, silence_duration_ms=silence_ms,
                                  prefix_padding_ms=prefix_ms, base_ms=int(self.written_ms), rms_at_half=rms_at_half)

    def _reset(self) -> None:
        self.buffered_ms = 0.0
        self._speech_item_id = None
        if self._vad is not None:
            self._vad.reset(at_ms=int(self.written_ms))

    async def append(self, event: dict[str, Any]) -> None:
        """Handle ``input_audio_buffer.append``."""
        audio = event.get("audio")
        if not isinstance(audio, str):
            raise ProtocolError("missing_required_parameter", "Missing required parameter: 'audio'.", param="audio")
        try:
            data = base64.b64decode(audio, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise ProtocolError("invalid_value", "'audio' is not valid base64.", param="audio") from exc
        ms = len(data) / self._bytes_per_ms
        self.written_ms += ms
        self.buffered_ms += ms
        if self._vad is not None:
            for vad_event in self._vad.feed(data):
                await self._on_vad(vad_event)

    async def commit(self, event: dict[str, Any]) -> None:
        """Handle ``input_audio_buffer.commit``."""
        if self.buffered_ms < _MIN_COMMIT_MS:
            raise ProtocolError(
                "input_audio_buffer_commit_empty",
                "Error committing input audio buffer: buffer too small. Expected at least 100ms of audio, "
                f"but buffer only has {self.buffered_ms:.2f}ms of audio.",
            )
        item_id = self._speech_item_id or new_id("item")
        await self._commit(item_id, automatic=False)

    async def clear(self, event: dict[str, Any]) -> None:
        """Handle ``input_audio_buffer.clear``."""
        self._reset()
        await self._connection.send({"type": "input_audio_buffer.cleared"})

    async def _on_vad(self, vad_event: VadEvent) -> None:
        connection = self._connection
        detection = connection.session["audio"]["input"]["turn_detection"] or {}
        if vad_event.kind == "start":
            self._speech_item_id = new_id("item")
            await connection.send({"type": "input_audio_buffer.speech_started", "audio_start_ms": vad_event.ms,
                                   "item_id": self._speech_item_id})
            if detection.get("interrupt_response", True):
                await connection.interrupt_active_response()
            return
        item_id = self._speech_item_id or new_id("item")
        await connection.send({"type": "input_audio_buffer.speech_stopped", "audio_end_ms": vad_event.ms,
                               "item_id": item_id})
        await self._commit(item_id, automatic=bool(detection.get("create_response", True)))

    async def _transcribe(self, item: dict[str, Any], item_id: str, seconds: float) -> None:
        connection = self._connection
        transcript = connection.server.next_transcription()
        words = transcript.split(" ")
        for index, word in enumerate(words):
            delta = word if index == len(words) - 1 else word + " "
            await connection.send({"type": "conversation.item.input_audio_transcription.delta",
                                   "item_id": item_id, "content_index": 0, "delta": delta})
        item["content"][0]["transcript"] = transcript
        await connection.send({"type": "conversation.item.input_audio_transcription.completed",
                               "item_id": item_id, "content_index": 0, "transcript": transcript,
                               "usage": {"type": "duration", "seconds": seconds}})

    async def _commit(self, item_id: str, *, automatic: bool) -> None:
        connection = self._connection
        seconds = round(self.buffered_ms / 1000, 3)
        self.committed_ms += int(self.buffered_ms)
        self._reset()
        item: dict[str, Any] = {"id": item_id, "object": "realtime.item", "type": "message", "status": "completed",
                                "role": "user", "content": [{"type": "input_audio", "transcript": None}]}
        previous = connection.add_conversation_item(item)
        await connection.send({"type": "input_audio_buffer.committed", "item_id": item_id,
                               "previous_item_id": previous})
        await connection.send({"type": "conversation.item.added", "previous_item_id": previous,
                               "item": copy.deepcopy(item)})
        transcribes = connection.session["audio"]["input"]["transcription"] is not None
        # The real service often finishes transcribing after the item is done (late_transcription).
        late = connection.server.late_transcription
        if transcribes and not late:
            await self._transcribe(item, item_id, seconds)
        await connection.send({"type": "conversation.item.done", "previous_item_id": previous,
                               "item": copy.deepcopy(item)})
        if transcribes and late:
            await self._transcribe(item, item_id, seconds)
        if automatic:
            if connection.active_response_id is None:
                connection.start_response({})
            else:
                logger.debug("speech stopped while %s is active; no automatic response",
                             connection.active_response_id)
