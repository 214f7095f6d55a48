"""Test audio for the fake Realtime server: tones, silence, G.711 energy tables, pre-encoded output chunks."""
from __future__ import annotations

import base64
import functools
import math
import sys
from array import array

from ..audio import alaw_decode, alaw_encode, ulaw_decode, ulaw_encode

PCM = "audio/pcm"
PCMU = "audio/pcmu"
PCMA = "audio/pcma"
FORMAT_TYPES = (PCM, PCMU, PCMA)
PCM_RATE = 24_000
G711_RATE = 8_000

# Output is a quiet 400 Hz tone: a whole number of periods fits every 2.5 ms at both rates,
# so identical 50 ms chunks can be encoded once and shared by every connection.
OUTPUT_FREQUENCY = 400.0
OUTPUT_AMPLITUDE = 0.05


def sample_rate(format_type: str) -> int:
    """Samples per second of a GA audio format type."""
    return PCM_RATE if format_type == PCM else G711_RATE


def bytes_per_ms(format_type: str) -> int:
    """Bytes per millisecond of a GA audio format type (48 for PCM16 24 kHz, 8 for G.711)."""
    return 48 if format_type == PCM else 8


def _check_format(format_type: str) -> None:
    if format_type not in FORMAT_TYPES:
        raise ValueError(f"unknown audio format {format_type!r}; expected one of {', '.join(FORMAT_TYPES)}")


def _pcm16_bytes(samples: array) -> bytes:
    if sys.byteorder == "big":
        samples = array("h", samples)
        samples.byteswap()
    return samples.tobytes()


def pcm16_samples(data: bytes) -> array:
    """Decode little-endian PCM16 bytes (an odd trailing byte is ignored) to a signed sample array."""
    samples = array("h", data[: len(data) - len(data) % 2])
    if sys.byteorder == "big":
        samples.byteswap()
    return samples


_ALL_BYTES = bytes(range(256))
ULAW_DECODE = tuple(pcm16_samples(ulaw_decode(_ALL_BYTES)))
ALAW_DECODE = tuple(pcm16_samples(alaw_decode(_ALL_BYTES)))
# Squared sample values per G.711 byte let the VAD sum energy without decoding to an array.
ULAW_SQUARES = tuple(v * v for v in ULAW_DECODE)
ALAW_SQUARES = tuple(v * v for v in ALAW_DECODE)


def _sine(rate: int, ms: int, frequency: float, amplitude: float) -> array:
    count = rate * ms // 1000
    peak = amplitude * 32767
    step = 2 * math.pi * frequency / rate
    return array("h", (int(round(peak * math.sin(step * i))) for i in range(count)))


def _encode(samples: array, format_type: str) -> bytes:
    pcm = _pcm16_bytes(samples)
    if format_type == PCM:
        return pcm
    return ulaw_encode(pcm) if format_type == PCMU else alaw_encode(pcm)


def tone(ms: int, *, format_type: str = PCM, frequency: float = 440.0, amplitude: float = 0.3) -> bytes:
    """Return ``ms`` milliseconds of a sine tone in the given GA format (for driving the server VAD)."""
    _check_format(format_type)
    if ms < 0 or not 0 <= amplitude <= 1:
        raise ValueError("tone needs ms >= 0 and 0 <= amplitude <= 1")
    return _encode(_sine(sample_rate(format_type), ms, frequency, amplitude), format_type)


def silence(ms: int, *, format_type: str = PCM) -> bytes:
    """Return ``ms`` milliseconds of digital silence in the given GA format."""
    _check_format(format_type)
    if ms < 0:
        raise ValueError("silence needs ms >= 0")
    return _encode(array("h", bytes(2 * (sample_rate(format_type) * ms // 1000))), format_type)


@functools.lru_cache(maxsize=512)
def output_chunks(format_type: str, total_ms: int, chunk_ms: int) -> tuple[tuple[str, int], ...]:
    """Pre-encoded base64 output audio chunks ``(b64, ms)`` covering ``total_ms``; cached and shared."""
    _check_format(format_type)
    full, rest = divmod(total_ms, chunk_ms)
    chunks: list[tuple[str, int]] = []
    if full:
        encoded = base64.b64encode(
            _encode(_sine(sample_rate(format_type), chunk_ms, OUTPUT_FREQUENCY, OUTPUT_AMPLITUDE), format_type)
        ).decode("ascii")
        chunks.extend([(encoded, chunk_ms)] * full)
    if rest:
        tail = _encode(_sine(sample_rate(format_type), rest, OUTPUT_FREQUENCY, OUTPUT_AMPLITUDE), format_type)
        chunks.append((base64.b64encode(tail).decode("ascii"), rest))
    return tuple(chunks)
