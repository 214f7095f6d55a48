"""The input audio buffer: decode any session format to 16 kHz, run VAD, hand out speech segments."""
from __future__ import annotations

import base64
import binascii
import logging
import threading
from typing import Any

from ..audio import alaw_decode, from_ga_format, ulaw_decode
from .state import ClientEventError, vad_settings
from .tts import resample
from .vad import RATE, Segmenter, SileroVad, VadEvent

logger = logging.getLogger("realtime_agents.engine.offline.input")

BYTES_PER_MS = RATE * 2 // 1000
MIN_COMMIT_MS = 100


class InputAudio:
    """What the user said since the last commit, as 16 kHz PCM16, with VAD over the whole stream."""

    def __init__(self, vad: SileroVad) -> None:
        self._vad = vad
        self._lock = threading.Lock()
        self._format = "pcm16"
        self._source_rate = 24000
        self._odd = b""
        self._carry = b""
        self._buffer = bytearray()
        self._buffer_start_ms = 0
        self.position_ms = 0
        self._settings: tuple[float, int, int] | None = None
        self.segmenter: Segmenter | None = None

    def configure(self, session: dict[str, Any]) -> None:
        """Follow the session's input format and turn detection (keeps buffered audio)."""
        fmt = from_ga_format(session["audio"]["input"]["format"])
        with self._lock:
            if fmt != self._format:
                self._format, self._odd, self._carry = fmt, b"", b""
                self._source_rate = 24000 if fmt == "pcm16" else 8000
            settings = vad_settings(session)
            if settings != self._settings:
                self._settings = settings
                if settings is None:
                    self.segmenter = None
                else:
                    threshold, silence_ms, prefix_ms = settings
                    self.segmenter = Segmenter(self._vad, threshold=threshold, silence_ms=silence_ms,
                                               prefix_ms=prefix_ms)
                    self.segmenter.reset(at_ms=self.position_ms)

    def decode(self, audio: Any) -> bytes:
        """An append's base64 audio as 16 kHz PCM16 (an odd trailing byte waits for the next append)."""
        if not isinstance(audio, str):
            raise ClientEventError("missing_required_parameter", "Missing required parameter: 'audio'.", param="audio")
        try:
            data = base64.b64decode(audio, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise ClientEventError("invalid_value", "'audio' is not valid base64.", param="audio") from exc
        with self._lock:
            if self._format == "pcm16":
                data = self._odd + data
                usable = len(data) - len(data) % 2
                data, self._odd = data[:usable], data[usable:]
            else:
                data = ulaw_decode(data) if self._format == "g711_ulaw" else alaw_decode(data)
            # Whole resampling periods only (3 samples at 24 kHz), so chunk edges never drift.
            data = self._carry + data
            period = 6 if self._source_rate == 24000 else 2
            usable = len(data) - len(data) % period
            data, self._carry = data[:usable], data[usable:]
            return resample(data, self._source_rate, RATE)

    def process(self, pcm16k: bytes) -> list[VadEvent]:
        """Buffer 16 kHz audio and run VAD over it (blocking: call in a worker thread)."""
        with self._lock:
            self._buffer += pcm16k
            self.position_ms += len(pcm16k) // BYTES_PER_MS
            segmenter = self.segmenter
        return segmenter.feed(pcm16k) if segmenter is not None else []

    @property
    def buffered_ms(self) -> int:
        """Milliseconds of audio not yet committed or cleared."""
        return len(self._buffer) // BYTES_PER_MS

    def take(self, start_ms: int, end_ms: int) -> bytes:
        """The audio from start_ms to end_ms of the stream; everything before end_ms is dropped."""
        with self._lock:
            begin = max(0, (start_ms - self._buffer_start_ms) * BYTES_PER_MS)
            end = max(begin, min(len(self._buffer), (end_ms - self._buffer_start_ms) * BYTES_PER_MS))
            segment = bytes(self._buffer[begin:end])
            del self._buffer[:end]
            self._buffer_start_ms += end // BYTES_PER_MS
            return segment

    def take_all(self) -> bytes:
        """Everything buffered (a manual commit); VAD starts afresh."""
        with self._lock:
            segment = bytes(self._buffer)
            self._buffer.clear()
            self._buffer_start_ms = self.position_ms
            segmenter = self.segmenter
        if segmenter is not None:
            segmenter.reset(at_ms=self.position_ms)
        return segment

    def clear(self) -> None:
        """Drop the buffer (input_audio_buffer.clear)."""
        self.take_all()
