"""A simple energy voice activity detector standing in for the Realtime server's VAD."""
from __future__ import annotations

import math
from dataclasses import dataclass
from operator import mul
from typing import Literal

from .audio import ALAW_SQUARES, PCM, PCMU, ULAW_SQUARES, bytes_per_ms, pcm16_samples

FRAME_MS = 20
# Speech must stay above the threshold this long before it counts, so clicks are ignored.
SPEECH_START_MS = 60
# Every 4th PCM16 sample (6 kHz) estimates frame energy well enough and keeps 100 live sessions cheap.
PCM_STRIDE = 4
# RMS (relative to full scale) that the session threshold 0.5 maps to: about -34 dBFS.
DEFAULT_RMS_AT_HALF = 0.02


@dataclass(frozen=True, slots=True)
class VadEvent:
    """Speech began or ended at ``ms`` (offset into all audio written to the buffer)."""

    kind: Literal["start", "stop"]
    ms: int


class EnergyVad:
    """Detect speech by RMS over 20 ms frames against a threshold, with start and silence hangover."""

    def __init__(
        self,
        *,
        format_type: str,
        threshold: float,
        silence_duration_ms: int,
        prefix_padding_ms: int,
        base_ms: int = 0,
        rms_at_half: float = DEFAULT_RMS_AT_HALF,
    ) -> None:
        self._format_type = format_type
        self._frame_bytes = bytes_per_ms(format_type) * FRAME_MS
        self._rms_threshold = rms_at_half * (threshold / 0.5)
        self._silence_ms = max(FRAME_MS, silence_duration_ms)
        self._prefix_ms = prefix_padding_ms
        self._position_ms = base_ms
        self._floor_ms = base_ms
        self._pending = b""
        self._loud_since: int | None = None
        self._silent_ms = 0
        self.speaking = False

    def _rms(self, frame: bytes) -> float:
        if self._format_type == PCM:
            samples = pcm16_samples(frame)[::PCM_STRIDE]
            total = sum(map(mul, samples, samples))
            count = len(samples)
        else:
            squares = ULAW_SQUARES if self._format_type == PCMU else ALAW_SQUARES
            total = sum(map(squares.__getitem__, frame))
            count = len(frame)
        return math.sqrt(total / count) / 32768 if count else 0.0

    def reset(self, *, at_ms: int) -> None:
        """Forget any speech in progress (after a commit or clear); padding never reaches before ``at_ms``."""
        self._loud_since = None
        self._silent_ms = 0
        self.speaking = False
        self._floor_ms = at_ms

    def feed(self, data: bytes) -> list[VadEvent]:
        """Consume audio bytes and return the speech boundaries found in complete frames."""
        events: list[VadEvent] = []
        buffer = self._pending + data if self._pending else data
        frame_bytes = self._frame_bytes
        usable = len(buffer) - len(buffer) % frame_bytes
        for offset in range(0, usable, frame_bytes):
            loud = self._rms(buffer[offset : offset + frame_bytes]) > self._rms_threshold
            frame_start = self._position_ms
            self._position_ms += FRAME_MS
            if not self.speaking:
                if not loud:
                    self._loud_since = None
                    continue
                if self._loud_since is None:
                    self._loud_since = frame_start
                if self._position_ms - self._loud_since >= SPEECH_START_MS:
                    self.speaking = True
                    self._silent_ms = 0
                    start = max(self._floor_ms, self._loud_since - self._prefix_ms)
                    events.append(VadEvent(kind="start", ms=start))
            elif loud:
                self._silent_ms = 0
            else:
                self._silent_ms += FRAME_MS
                if self._silent_ms >= self._silence_ms:
                    self.speaking = False
                    self._loud_since = None
                    self._floor_ms = self._position_ms
                    events.append(VadEvent(kind="stop", ms=self._position_ms))
        self._pending = buffer[usable:]
        return events
