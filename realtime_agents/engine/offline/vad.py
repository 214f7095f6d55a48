"""Voice activity detection: Silero VAD (ONNX via onnxruntime) and a streaming start/stop segmenter."""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from .assets import limit_threads, silero_vad_path

logger = logging.getLogger("realtime_agents.engine.offline.vad")

RATE = 16000
FRAME = 512  # samples per Silero step at 16 kHz (32 ms)
FRAME_BYTES = FRAME * 2
FRAME_MS = FRAME * 1000 // RATE
_CONTEXT = 64
# Silero's offsets land up to ~0.4 s early on soft word endings: never hang over less than this.
MIN_HANGOVER_MS = 400


class SileroVad:
    """The Silero ONNX network, shared by every stream (onnxruntime sessions are thread-safe)."""

    def __init__(self, path: Path | None = None, *, threads: int = 1) -> None:
        limit_threads()
        import numpy as np
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        self._np = np
        self._session = ort.InferenceSession(str(path or silero_vad_path()), sess_options=options,
                                             providers=["CPUExecutionProvider"])
        self._sr = np.array(RATE, dtype=np.int64)

    def new_state(self) -> dict[str, Any]:
        """Fresh per-stream recurrent state and context."""
        np = self._np
        return {"state": np.zeros((2, 1, 128), dtype=np.float32), "context": np.zeros((1, _CONTEXT), dtype=np.float32)}

    def probabilities(self, pcm16: bytes, state: dict[str, Any]) -> list[float]:
        """Speech probability of each whole 512-sample frame of 16 kHz PCM16 (a multiple of 1024 bytes)."""
        np = self._np
        samples = np.frombuffer(pcm16, dtype="<i2").astype(np.float32) / 32768.0
        out: list[float] = []
        for start in range(0, len(samples) - FRAME + 1, FRAME):
            chunk = samples[start:start + FRAME].reshape(1, FRAME)
            window = np.concatenate([state["context"], chunk], axis=1)
            prob, state["state"] = self._session.run(None, {"input": window, "state": state["state"], "sr": self._sr})
            state["context"] = window[:, -_CONTEXT:]
            out.append(float(prob[0][0]))
        return out


@dataclass(frozen=True, kw_only=True)
class VadEvent:
    """Speech started or stopped at `ms` (milliseconds of input since the buffer began)."""

    kind: Literal["start", "stop"]
    ms: int


class Segmenter:
    """Turns per-frame probabilities into start/stop events with prefix padding and hang-over."""

    def __init__(self, vad: SileroVad, *, threshold: float = 0.5, silence_ms: int = 500,
                 prefix_ms: int = 300, min_speech_ms: int = 96) -> None:
        if not 0.0 < threshold < 1.0:
            raise ValueError(f"VAD threshold must be between 0 and 1, got {threshold!r}")
        self._vad = vad
        self.threshold = threshold
        # Hysteresis: once in speech, stay there until the probability falls well below the onset threshold.
        self.off_threshold = max(0.05, threshold - 0.15)
        self.silence_ms = max(silence_ms, MIN_HANGOVER_MS)
        self.prefix_ms = prefix_ms
        self.min_speech_ms = min_speech_ms
        self._lock = threading.Lock()
        self.reset(at_ms=0)

    def reset(self, *, at_ms: int) -> None:
        """Forget any speech in progress (after a commit or clear); keep the network state."""
        with self._lock:
            if not hasattr(self, "_state"):
                self._state = self._vad.new_state()
            self._pending = b""
            self.position_ms = at_ms
            self.in_speech = False
            self._candidate_ms: int | None = None
            self._voiced_ms = 0
            self._silent_ms = 0

    def feed(self, pcm16_16k: bytes) -> list[VadEvent]:
        """Process 16 kHz PCM16 (any length); return the events it caused, in order (thread-safe)."""
        with self._lock:
            data = self._pending + pcm16_16k
            usable = len(data) - len(data) % FRAME_BYTES
            self._pending = data[usable:]
            events: list[VadEvent] = []
            for prob in self._vad.probabilities(data[:usable], self._state):
                self.position_ms += FRAME_MS
                event = self._step(prob)
                if event is not None:
                    events.append(event)
            return events

    def _step(self, prob: float) -> VadEvent | None:
        if not self.in_speech:
            if prob >= self.threshold:
                if self._candidate_ms is None:
                    self._candidate_ms = self.position_ms - FRAME_MS
                self._voiced_ms += FRAME_MS
                if self._voiced_ms >= self.min_speech_ms:
                    self.in_speech, self._silent_ms = True, 0
                    return VadEvent(kind="start", ms=max(0, self._candidate_ms - self.prefix_ms))
            else:
                self._candidate_ms, self._voiced_ms = None, 0
            return None
        if prob < self.off_threshold:
            self._silent_ms += FRAME_MS
            if self._silent_ms >= self.silence_ms:
                self.in_speech, self._candidate_ms, self._voiced_ms = False, None, 0
                return VadEvent(kind="stop", ms=self.position_ms)
        else:
            self._silent_ms = 0
        return None
