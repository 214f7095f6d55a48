"""Audio format names, durations, G.711 codecs, resampling and levels for raw PCM16 audio."""
from __future__ import annotations

import array
import math
import sys
from collections.abc import Mapping
from itertools import repeat
from operator import add, floordiv, mul, sub
from typing import Any, Literal, get_args

from .errors import ConfigError

__all__ = [
    "AudioFormat",
    "AudioFormatError",
    "alaw_decode",
    "alaw_encode",
    "bytes_per_ms",
    "duration_ms",
    "from_ga_format",
    "normalize_audio_format",
    "pcm16_rms",
    "resample_pcm16",
    "sample_rate",
    "to_ga_format",
    "ulaw_decode",
    "ulaw_encode",
]

AudioFormat = Literal["pcm16", "g711_ulaw", "g711_alaw"]
AUDIO_FORMATS: tuple[AudioFormat, ...] = get_args(AudioFormat)
PCM_RATE = 24000

_BY_NAME: dict[str, AudioFormat] = {
    "pcm16": "pcm16",
    "audio/pcm": "pcm16",
    "g711_ulaw": "g711_ulaw",
    "audio/pcmu": "g711_ulaw",
    "g711_alaw": "g711_alaw",
    "audio/pcma": "g711_alaw",
}
_GA_TYPE: dict[AudioFormat, str] = {
    "pcm16": "audio/pcm", "g711_ulaw": "audio/pcmu", "g711_alaw": "audio/pcma",
}
_RATE: dict[AudioFormat, int] = {"pcm16": PCM_RATE, "g711_ulaw": 8000, "g711_alaw": 8000}
_BYTES_PER_MS: dict[AudioFormat, int] = {"pcm16": 48, "g711_ulaw": 8, "g711_alaw": 8}
_ALLOWED = "pcm16, g711_ulaw, g711_alaw, audio/pcm, audio/pcmu, audio/pcma or {'type': ..., 'rate': ...}"


class AudioFormatError(ValueError):
    """Audio bytes or parameters do not fit the format (odd-length PCM16, bad rate, ...)."""


def normalize_audio_format(value: Any) -> AudioFormat:
    """Map any accepted spelling (beta name, GA name, GA object) to the short beta name."""
    if isinstance(value, str):
        try:
            return _BY_NAME[value]
        except KeyError:
            raise ConfigError(f"unknown audio format {value!r}; allowed: {_ALLOWED}") from None
    if isinstance(value, Mapping):
        return from_ga_format(value)
    # Typed objects such as openai's AudioPCM carry the same fields as the GA mapping.
    dump = getattr(value, "model_dump", None)
    if callable(dump):
        return from_ga_format(dump(exclude_none=True))
    raise ConfigError(
        f"audio format must be a string or a mapping, got {type(value).__name__}; allowed: {_ALLOWED}"
    )


def to_ga_format(fmt: AudioFormat) -> dict[str, Any]:
    """The GA wire object for a format, e.g. {"type": "audio/pcm", "rate": 24000}."""
    fmt = normalize_audio_format(fmt)
    if fmt == "pcm16":
        return {"type": "audio/pcm", "rate": PCM_RATE}
    return {"type": _GA_TYPE[fmt]}


def from_ga_format(value: Mapping[str, Any]) -> AudioFormat:
    """Read a GA format object ({type, rate?}); a PCM rate other than 24000 is refused."""
    if not isinstance(value, Mapping):
        raise ConfigError(f"GA audio format must be a mapping, got {type(value).__name__}")
    unknown = sorted(str(k) for k in value if k not in ("type", "rate"))
    if unknown:
        raise ConfigError(f"unknown audio format key {unknown[0]!r}; allowed: type, rate")
    kind = value.get("type")
    if kind not in ("audio/pcm", "audio/pcmu", "audio/pcma"):
        raise ConfigError(f"audio format type must be audio/pcm, audio/pcmu or audio/pcma, got {kind!r}")
    rate = value.get("rate")
    expected = PCM_RATE if kind == "audio/pcm" else 8000
    if rate is not None and (isinstance(rate, bool) or rate != expected):
        raise ConfigError(f"audio format {kind} only supports rate {expected}, got {rate!r}")
    return _BY_NAME[kind]


def sample_rate(fmt: AudioFormat | str | Mapping[str, Any]) -> int:
    """Samples per second of a format: 24000 for PCM16, 8000 for G.711."""
    return _RATE[normalize_audio_format(fmt)]


def bytes_per_ms(fmt: AudioFormat | str | Mapping[str, Any]) -> int:
    """Bytes per millisecond of mono audio: 48 for PCM16 at 24 kHz, 8 for G.711."""
    return _BYTES_PER_MS[normalize_audio_format(fmt)]


def duration_ms(fmt: AudioFormat | str | Mapping[str, Any], n_bytes: int) -> float:
    """Milliseconds of audio held in n_bytes of the format."""
    if isinstance(n_bytes, bool) or not isinstance(n_bytes, int) or n_bytes < 0:
        raise AudioFormatError(f"byte count must be a non-negative integer, got {n_bytes!r}")
    return n_bytes / bytes_per_ms(fmt)


def _samples(pcm16: bytes | bytearray | memoryview) -> array.array[int]:
    data = bytes(pcm16)
    if len(data) % 2:
        raise AudioFormatError(f"PCM16 audio must have an even number of bytes, got {len(data)}")
    samples = array.array("h", data)
    if sys.byteorder == "big":
        samples.byteswap()
    return samples


def _to_bytes(samples: array.array[int]) -> bytes:
    if sys.byteorder == "big":
        samples = array.array("h", samples)
        samples.byteswap()
    return samples.tobytes()


# G.711 per ITU-T G.711 (the classic Sun reference algorithm): segment search on the
# biased magnitude, 4 mantissa bits, bits inverted (mu-law) or even bits toggled (A-law).
def _ulaw_from_linear(sample: int) -> int:
    value = sample >> 2
    mask = 0xFF
    if value < 0:
        value, mask = -value, 0x7F
    value = min(value, 8159) + 33
    segment = (value >> 6).bit_length()
    if segment >= 8:
        return 0x7F ^ mask
    return ((segment << 4) | ((value >> (segment + 1)) & 0x0F)) ^ mask


def _ulaw_to_linear(code: int) -> int:
    code = ~code & 0xFF
    magnitude = (((code & 0x0F) << 3) + 0x84) << ((code & 0x70) >> 4)
    return 0x84 - magnitude if code & 0x80 else magnitude - 0x84


def _alaw_from_linear(sample: int) -> int:
    value = sample >> 3
    mask = 0xD5
    if value < 0:
        value, mask = -value - 1, 0x55
    segment = (value >> 5).bit_length()
    if segment >= 8:
        return 0x7F ^ mask
    mantissa = (value >> 1) if segment < 2 else (value >> segment)
    return ((segment << 4) | (mantissa & 0x0F)) ^ mask


def _alaw_to_linear(code: int) -> int:
    code ^= 0x55
    magnitude = (code & 0x0F) << 4
    segment = (code & 0x70) >> 4
    if segment == 0:
        magnitude += 8
    else:
        magnitude = (magnitude + 0x108) << (segment - 1)
    return magnitude if code & 0x80 else -magnitude


def _encode_table(encode: Any, dropped_bits: int) -> bytes:
    # Indexed by the sample read as unsigned 16-bit, so array('H') values index it directly.
    # The code only depends on sample >> dropped_bits: compute each distinct value once.
    width = 16 - dropped_bits
    half = 1 << (width - 1)
    coarse = bytes(encode((q - 2 * half if q >= half else q) << dropped_bits) for q in range(2 * half))
    table = bytearray(0x10000)
    for offset in range(1 << dropped_bits):
        table[offset :: 1 << dropped_bits] = coarse
    return bytes(table)


def _decode_tables(decode: Any) -> tuple[bytes, bytes]:
    # Two 256-byte translate tables (low and high byte of the little-endian sample).
    values = [decode(code) & 0xFFFF for code in range(256)]
    return bytes(v & 0xFF for v in values), bytes(v >> 8 for v in values)


_ULAW_ENCODE = _encode_table(_ulaw_from_linear, 2)
_ALAW_ENCODE = _encode_table(_alaw_from_linear, 3)
_ULAW_DECODE = _decode_tables(_ulaw_to_linear)
_ALAW_DECODE = _decode_tables(_alaw_to_linear)


def _encode(pcm16: bytes, table: bytes) -> bytes:
    data = bytes(pcm16)
    if len(data) % 2:
        raise AudioFormatError(f"PCM16 audio must have an even number of bytes, got {len(data)}")
    unsigned = array.array("H", data)
    if sys.byteorder == "big":
        unsigned.byteswap()
    return bytes(map(table.__getitem__, unsigned))


def _decode(data: bytes, tables: tuple[bytes, bytes]) -> bytes:
    data = bytes(data)
    out = bytearray(2 * len(data))
    out[0::2] = data.translate(tables[0])
    out[1::2] = data.translate(tables[1])
    return bytes(out)


def ulaw_encode(pcm16: bytes) -> bytes:
    """Encode little-endian PCM16 to G.711 mu-law, one byte per sample."""
    return _encode(pcm16, _ULAW_ENCODE)


def ulaw_decode(data: bytes) -> bytes:
    """Decode G.711 mu-law to little-endian PCM16."""
    return _decode(data, _ULAW_DECODE)


def alaw_encode(pcm16: bytes) -> bytes:
    """Encode little-endian PCM16 to G.711 A-law, one byte per sample."""
    return _encode(pcm16, _ALAW_ENCODE)


def alaw_decode(data: bytes) -> bytes:
    """Decode G.711 A-law to little-endian PCM16."""
    return _decode(data, _ALAW_DECODE)


def _check_rate(rate: Any, name: str) -> int:
    if isinstance(rate, bool) or not isinstance(rate, int) or rate <= 0:
        raise AudioFormatError(f"{name} must be a positive integer sample rate, got {rate!r}")
    return rate


def resample_pcm16(pcm16: bytes, src_rate: int, dst_rate: int) -> bytes:
    """Resample mono PCM16 by linear interpolation; output has len*dst//src samples.

    State-free: each call stands alone, so feed chunks whose sample count is a multiple
    of src/gcd(src, dst) (e.g. 20 ms frames) to avoid drift at chunk edges.
    """
    src_rate, dst_rate = _check_rate(src_rate, "src_rate"), _check_rate(dst_rate, "dst_rate")
    samples = _samples(pcm16)
    if src_rate == dst_rate or not samples:
        return _to_bytes(samples)
    n_in = len(samples)
    n_out = n_in * dst_rate // src_rate
    if dst_rate % src_rate == 0:
        factor = dst_rate // src_rate
        # The last input sample is held, so the output never reads past the input.
        diffs = list(map(sub, samples[1:] + samples[-1:], samples))
        out = array.array("h", bytes(2 * n_out))
        out[0::factor] = samples
        for step in range(1, factor):
            rounded = map(add, map(mul, diffs, repeat(step)), repeat(factor // 2))
            scaled = map(floordiv, rounded, repeat(factor))
            out[step::factor] = array.array("h", map(add, samples, scaled))
        return _to_bytes(out)
    if src_rate % dst_rate == 0:
        # Averaging each group is a crude low-pass that keeps aliasing down when decimating.
        factor = src_rate // dst_rate
        sums: Any = samples[0 : n_out * factor : factor]
        for k in range(1, factor):
            sums = map(add, sums, samples[k : n_out * factor : factor])
        means = map(floordiv, map(add, sums, repeat(factor // 2)), repeat(factor))
        return _to_bytes(array.array("h", means))
    out = array.array("h", bytes(2 * n_out))
    last = n_in - 1
    for i in range(n_out):
        position = i * src_rate / dst_rate
        j = int(position)
        a = samples[j]
        b = samples[j + 1] if j < last else a
        out[i] = round(a + (b - a) * (position - j))
    return _to_bytes(out)


def pcm16_rms(pcm16: bytes) -> float:
    """Root mean square of the samples in raw units (0 to 32768); 0.0 for no audio."""
    samples = _samples(pcm16)
    if not samples:
        return 0.0
    return math.sqrt(sum(map(mul, samples, samples)) / len(samples))
