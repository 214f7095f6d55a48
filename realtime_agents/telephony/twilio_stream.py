"""The Twilio Media Streams wire format: JSON text frames in, typed events out, and outgoing frames."""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

__all__ = [
    "MAX_FRAME_CHARS",
    "ULAW_SILENCE",
    "CallerAudio",
    "PlaybackMark",
    "TwilioConnected",
    "TwilioDtmf",
    "TwilioEvent",
    "TwilioFrameError",
    "TwilioMark",
    "TwilioMedia",
    "TwilioStart",
    "TwilioStop",
    "clear_frame",
    "mark_frame",
    "media_frame",
    "parse_twilio_frame",
]

# Inbound media frames are ~20 ms (about 300 characters); 1 MiB leaves room for any sane frame.
MAX_FRAME_CHARS = 1024 * 1024
ULAW_SILENCE = 0xFF  # μ-law code for a zero sample
_ULAW_BYTES_PER_MS = 8
_DTMF_DIGITS = frozenset("0123456789*#ABCDabcd")
_EXCERPT = 80


def _frozen(mapping: Mapping[str, str]) -> Mapping[str, str]:
    return MappingProxyType(dict(mapping))


@dataclass(frozen=True, kw_only=True)
class TwilioConnected:
    """The first frame of a stream: the protocol name and version."""

    protocol: str
    version: str
    type: Literal["connected"] = "connected"


@dataclass(frozen=True, kw_only=True)
class TwilioStart:
    """Stream metadata, sent once: SIDs, tracks, our `<Parameter>` values and the media format."""

    stream_sid: str
    account_sid: str
    call_sid: str
    tracks: tuple[str, ...] = ("inbound",)
    custom_parameters: Mapping[str, str] = field(default_factory=lambda: _frozen({}))
    encoding: str = "audio/x-mulaw"
    sample_rate: int = 8000
    channels: int = 1
    sequence_number: int | None = None
    type: Literal["start"] = "start"


@dataclass(frozen=True, kw_only=True, repr=False)
class TwilioMedia:
    """One chunk of caller audio, decoded to raw μ-law bytes."""

    stream_sid: str
    track: str
    chunk: int
    timestamp_ms: int
    audio: bytes
    sequence_number: int | None = None
    type: Literal["media"] = "media"

    def __repr__(self) -> str:
        # Never print audio bytes (logs, assertion messages).
        return (
            f"TwilioMedia(stream_sid={self.stream_sid!r}, track={self.track!r}, chunk={self.chunk}, "
            f"timestamp_ms={self.timestamp_ms}, audio=<{len(self.audio)} bytes>)"
        )


@dataclass(frozen=True, kw_only=True)
class TwilioMark:
    """Twilio echoes a mark we sent: the audio before it was played, or discarded by `clear`."""

    stream_sid: str
    name: str
    sequence_number: int | None = None
    type: Literal["mark"] = "mark"


@dataclass(frozen=True, kw_only=True)
class TwilioDtmf:
    """The caller pressed a key."""

    stream_sid: str
    digit: str
    track: str = "inbound_track"
    sequence_number: int | None = None
    type: Literal["dtmf"] = "dtmf"


@dataclass(frozen=True, kw_only=True)
class TwilioStop:
    """The stream ended (for bidirectional streams: the call ended)."""

    stream_sid: str
    account_sid: str = ""
    call_sid: str = ""
    sequence_number: int | None = None
    type: Literal["stop"] = "stop"


@dataclass(frozen=True, kw_only=True)
class TwilioFrameError:
    """A frame we could not use: why, the event name if any, and a short excerpt (no audio)."""

    reason: str
    event: str | None = None
    excerpt: str = ""
    type: Literal["error"] = "error"


TwilioEvent = TwilioConnected | TwilioStart | TwilioMedia | TwilioMark | TwilioDtmf | TwilioStop


class _Bad(Exception):
    """Internal: a field is missing or malformed (turned into a TwilioFrameError)."""


def _field(obj: Mapping[str, Any], key: str, where: str) -> Any:
    if key not in obj:
        raise _Bad(f"{where}.{key} is missing")
    return obj[key]


def _text(obj: Mapping[str, Any], key: str, where: str, *, required: bool = True) -> str:
    if not required and key not in obj:
        return ""
    value = _field(obj, key, where)
    if not isinstance(value, str):
        raise _Bad(f"{where}.{key} must be a string, got {type(value).__name__}")
    return value


def _integer(obj: Mapping[str, Any], key: str, where: str, *, required: bool = True) -> int | None:
    if not required and obj.get(key) is None:
        return None
    value = _field(obj, key, where)
    # Twilio sends these numbers as strings ("1", "20"); accept real integers too.
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 18:
        return int(value)
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    raise _Bad(f"{where}.{key} must be a non-negative integer, got {value!r:.40}")


def _section(obj: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = _field(obj, key, "frame")
    if not isinstance(value, Mapping):
        raise _Bad(f"frame.{key} must be an object, got {type(value).__name__}")
    return value


def _stream_sid(frame: Mapping[str, Any], section: Mapping[str, Any] | None = None) -> str:
    sid = frame.get("streamSid")
    if sid is None and section is not None:
        sid = section.get("streamSid")
    if not isinstance(sid, str) or not sid:
        raise _Bad("frame.streamSid must be a non-empty string")
    return sid


def _parse_start(frame: Mapping[str, Any], seq: int | None) -> TwilioStart:
    start = _section(frame, "start")
    tracks = start.get("tracks", ["inbound"])
    if not isinstance(tracks, list) or not all(isinstance(t, str) for t in tracks):
        raise _Bad("start.tracks must be a list of strings")
    params = start.get("customParameters") or {}
    if not isinstance(params, Mapping):
        raise _Bad("start.customParameters must be an object")
    custom = {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in params.items()}
    fmt = start.get("mediaFormat") or {}
    if not isinstance(fmt, Mapping):
        raise _Bad("start.mediaFormat must be an object")
    encoding = fmt.get("encoding", "audio/x-mulaw")
    rate = _integer(fmt, "sampleRate", "start.mediaFormat", required=False) or 8000
    channels = _integer(fmt, "channels", "start.mediaFormat", required=False) or 1
    if (encoding, rate, channels) != ("audio/x-mulaw", 8000, 1):
        raise _Bad(
            f"unsupported media format {encoding!r:.40} {rate} Hz x{channels}; "
            "expected audio/x-mulaw 8000 Hz mono"
        )
    return TwilioStart(
        stream_sid=_stream_sid(frame, start),
        account_sid=_text(start, "accountSid", "start", required=False),
        call_sid=_text(start, "callSid", "start"),
        tracks=tuple(tracks),
        custom_parameters=_frozen(custom),
        encoding=encoding,
        sample_rate=rate,
        channels=channels,
        sequence_number=seq,
    )


def _parse_media(frame: Mapping[str, Any], seq: int | None) -> TwilioMedia:
    media = _section(frame, "media")
    payload = _text(media, "payload", "media")
    try:
        audio = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise _Bad("media.payload is not valid base64") from None
    return TwilioMedia(
        stream_sid=_stream_sid(frame),
        track=_text(media, "track", "media", required=False) or "inbound",
        chunk=_integer(media, "chunk", "media", required=False) or 0,
        timestamp_ms=_integer(media, "timestamp", "media") or 0,
        audio=audio,
        sequence_number=seq,
    )


def _parse_dtmf(frame: Mapping[str, Any], seq: int | None) -> TwilioDtmf:
    dtmf = _section(frame, "dtmf")
    digit = _text(dtmf, "digit", "dtmf")
    if len(digit) != 1 or digit not in _DTMF_DIGITS:
        raise _Bad(f"dtmf.digit must be one of 0-9 * # A-D, got {digit!r:.20}")
    return TwilioDtmf(
        stream_sid=_stream_sid(frame),
        digit=digit.upper(),
        track=_text(dtmf, "track", "dtmf", required=False) or "inbound_track",
        sequence_number=seq,
    )


def _parse(frame: Mapping[str, Any]) -> TwilioEvent:
    event = frame.get("event")
    seq = _integer(frame, "sequenceNumber", "frame", required=False)
    if event == "connected":
        return TwilioConnected(
            protocol=_text(frame, "protocol", "frame", required=False),
            version=_text(frame, "version", "frame", required=False),
        )
    if event == "start":
        return _parse_start(frame, seq)
    if event == "media":
        return _parse_media(frame, seq)
    if event == "mark":
        mark = _section(frame, "mark")
        return TwilioMark(
            stream_sid=_stream_sid(frame), name=_text(mark, "name", "mark"), sequence_number=seq
        )
    if event == "dtmf":
        return _parse_dtmf(frame, seq)
    if event == "stop":
        stop = frame.get("stop") or {}
        if not isinstance(stop, Mapping):
            raise _Bad("frame.stop must be an object")
        return TwilioStop(
            stream_sid=_stream_sid(frame),
            account_sid=_text(stop, "accountSid", "stop", required=False),
            call_sid=_text(stop, "callSid", "stop", required=False),
            sequence_number=seq,
        )
    if not isinstance(event, str):
        raise _Bad("frame.event must be a string")
    raise _Bad(f"unknown event {event!r:.40}")


def parse_twilio_frame(text: str | bytes) -> TwilioEvent | TwilioFrameError:
    """Read one frame Twilio sent; anything unusable comes back as a TwilioFrameError, never raised."""
    if isinstance(text, (bytes, bytearray)):
        try:
            text = bytes(text).decode("utf-8")
        except UnicodeDecodeError:
            return TwilioFrameError(reason="frame is not UTF-8 text")
    if not isinstance(text, str):
        return TwilioFrameError(reason=f"frame must be text, got {type(text).__name__}")
    if len(text) > MAX_FRAME_CHARS:
        return TwilioFrameError(reason=f"frame too large: {len(text)} characters (limit {MAX_FRAME_CHARS})")
    try:
        frame = json.loads(text)
    except (json.JSONDecodeError, RecursionError):
        return TwilioFrameError(reason="frame is not valid JSON", excerpt=text[:_EXCERPT])
    if not isinstance(frame, dict):
        return TwilioFrameError(
            reason=f"frame must be a JSON object, got {type(frame).__name__}", excerpt=text[:_EXCERPT]
        )
    event = frame.get("event") if isinstance(frame.get("event"), str) else None
    try:
        return _parse(frame)
    except _Bad as exc:
        # Media carries caller audio and start the caller's details: keep both out of excerpts (logs).
        excerpt = "" if event in ("media", "start") else text[:_EXCERPT]
        return TwilioFrameError(reason=str(exc), event=event, excerpt=excerpt)


# -- outgoing frames -------------------------------------------------------------------------


def media_frame(stream_sid: str, audio: bytes) -> str:
    """A `media` frame that plays raw μ-law 8 kHz audio to the caller."""
    payload = base64.b64encode(audio).decode("ascii")
    return json.dumps({"event": "media", "streamSid": stream_sid, "media": {"payload": payload}})


def mark_frame(stream_sid: str, name: str) -> str:
    """A `mark` frame: Twilio echoes `name` once the audio sent before it has played."""
    return json.dumps({"event": "mark", "streamSid": stream_sid, "mark": {"name": name}})


def clear_frame(stream_sid: str) -> str:
    """A `clear` frame: drop all audio buffered at Twilio and echo every pending mark."""
    return json.dumps({"event": "clear", "streamSid": stream_sid})


_MARK = re.compile(r"ra1:(\d{1,9}):(\d{1,6}):(\d{1,12}):(.+)", re.DOTALL)


@dataclass(frozen=True, kw_only=True)
class PlaybackMark:
    """What a mark name means: this item's audio up to `end_byte` has played, in `generation`."""

    item_id: str
    content_index: int
    end_byte: int
    generation: int

    def __post_init__(self) -> None:
        if not isinstance(self.item_id, str) or not self.item_id:
            raise ValueError(f"item_id must be a non-empty string, got {self.item_id!r}")
        for name in ("content_index", "end_byte", "generation"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{name} must be a non-negative integer, got {value!r}")

    def encode(self) -> str:
        """The mark name; the item id goes last because it may contain any character."""
        return f"ra1:{self.generation}:{self.content_index}:{self.end_byte}:{self.item_id}"

    @classmethod
    def decode(cls, name: str) -> PlaybackMark | None:
        """Read a mark name we made; None for any other name (e.g. marks of another app)."""
        match = _MARK.fullmatch(name) if isinstance(name, str) else None
        if match is None:
            return None
        generation, index, end, item_id = match.groups()
        return cls(item_id=item_id, content_index=int(index), end_byte=int(end), generation=int(generation))


class CallerAudio:
    """Caller audio in timestamp order: inbound track only, gaps padded with bounded μ-law silence."""

    def __init__(self, *, max_gap_ms: int = 1000, track: str = "inbound") -> None:
        if isinstance(max_gap_ms, bool) or not isinstance(max_gap_ms, int) or max_gap_ms < 0:
            raise ValueError(f"max_gap_ms must be a non-negative integer, got {max_gap_ms!r}")
        self._max_gap_ms = max_gap_ms
        self._track = track
        self._next_ms: float | None = None
        self.padded_ms = 0
        self.gaps = 0

    def feed(self, media: TwilioMedia) -> bytes:
        """The audio to forward for this frame: the frame's audio, after silence for any gap before it."""
        if media.track not in (self._track, f"{self._track}_track"):
            return b""
        pad = b""
        if self._next_ms is not None:
            gap = int(media.timestamp_ms - self._next_ms)
            # Under one ms is rounding; a frame from the past (reordering) plays as it is.
            if gap >= 1:
                gap_ms = min(gap, self._max_gap_ms)
                pad = bytes([ULAW_SILENCE]) * (gap_ms * _ULAW_BYTES_PER_MS)
                self.padded_ms += gap_ms
                self.gaps += 1
        end = media.timestamp_ms + len(media.audio) / _ULAW_BYTES_PER_MS
        self._next_ms = end if self._next_ms is None else max(self._next_ms, end)
        return pad + media.audio
