"""The loaded offline models (VAD, recognition, synthesis), loaded once per process and shared."""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from .asr import DEFAULT_WINDOW_PADDING_S, Recognizer
from .assets import limit_threads
from .tts import Synthesizer, load_synthesizer
from .vad import SileroVad

logger = logging.getLogger("realtime_agents.engine.offline.engines")

TtsChoice = Literal["auto", "piper", "espeak", "none"]
_shared: dict[TtsChoice, OfflineEngines] = {}
_shared_lock = threading.Lock()


@dataclass(frozen=True, kw_only=True)
class OfflineEngines:
    """The three model runtimes; `synthesizer` is None when no speech synthesis is installed."""

    vad: SileroVad
    recognizer: Recognizer
    synthesizer: Synthesizer | None

    @classmethod
    def load(cls, *, tts: TtsChoice = "auto", cache_dir: Path | None = None,
             window_padding_s: float | None = DEFAULT_WINDOW_PADDING_S) -> OfflineEngines:
        """Load every model now (seconds; blocking); MissingAssetError names what to install.

        `window_padding_s=None` makes Whisper decode over its standard 30 s window: a second or
        more per turn on 2 cores, for slightly fewer recognition errors (docs/performance.md).
        """
        limit_threads()
        recognizer = Recognizer(cache_dir=cache_dir, window_padding_s=window_padding_s)
        return cls(vad=SileroVad(), recognizer=recognizer, synthesizer=load_synthesizer(tts))


def shared_engines(tts: TtsChoice = "auto") -> OfflineEngines:
    """The process-wide engines for a TTS choice, loaded on first use (blocking; call in a thread)."""
    with _shared_lock:
        engines = _shared.get(tts)
        if engines is None:
            engines = _shared[tts] = OfflineEngines.load(tts=tts)
            logger.info("offline models loaded (speech synthesis: %s)",
                        engines.synthesizer.name if engines.synthesizer else "none")
        return engines
