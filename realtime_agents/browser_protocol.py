"""The browser WebSocket protocol, inbound: frames validated into commands, audio checked and rate-limited."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, Union

from .engine.playback import PlaybackTracker

# PCM16 mono 24 kHz little-endian: 2 bytes per sample, 48 bytes per ms.
SAMPLE_RATE = 24_000
BYTES_PER_MS = SAMPLE_RATE * 2 // 1000
MAX_TEXT_FRAME_BYTES = 64 * 1024
MAX_AUDIO_FRAME_BYTES = 1000 * BYTES_PER_MS
MAX_ID_LENGTH = 128


class ProtocolError(ValueError):
    """A browser frame was refused; `code` and `message` go into the error frame."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True, kw_only=True)
class TextCommand:
    """A typed user message."""

    text: str
    type: Literal["text"] = "text"


@dataclass(frozen=True, kw_only=True)
class InterruptCommand:
    """Stop the assistant now."""

    type: Literal["interrupt"] = "interrupt"


@dataclass(frozen=True, kw_only=True)
class PlaybackCommand:
    """How far the browser has played an item's audio (ms from the item's first sample)."""

    item_id: str
    content_index: int
    ms: float
    type: Literal["playback"] = "playback"


@dataclass(frozen=True, kw_only=True)
class ApprovalCommand:
    """The user's decision on a tool call that waits for approval."""

    call_id: str
    approve: bool
    always: bool = False
    type: Literal["approval"] = "approval"


@dataclass(frozen=True, kw_only=True)
class CommitCommand:
    """Push-to-talk: the user's turn ends now."""

    type: Literal["commit"] = "commit"


@dataclass(frozen=True, kw_only=True)
class EndCommand:
    """The user ends the conversation."""

    type: Literal["end"] = "end"


Command = Union[TextCommand, InterruptCommand, PlaybackCommand, ApprovalCommand, CommitCommand, EndCommand]

# type -> (required fields, optional fields)
_FIELDS: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    "text": (frozenset({"text"}), frozenset()),
    "interrupt": (frozenset(), frozenset()),
    "playback": (frozenset({"item_id", "ms"}), frozenset({"content_index"})),
    "approval": (frozenset({"call_id", "approve"}), frozenset({"always"})),
    "commit": (frozenset(), frozenset()),
    "end": (frozenset(), frozenset()),
}


def _identifier(data: Mapping[str, Any], name: str) -> str:
    value = data[name]
    if not isinstance(value, str) or not value or len(value) > MAX_ID_LENGTH:
        raise ProtocolError(
            "invalid_message", f"'{name}' must be a non-empty string of at most {MAX_ID_LENGTH} characters"
        )
    return value


def _flag(data: Mapping[str, Any], name: str, default: bool) -> bool:
    value = data.get(name, default)
    if not isinstance(value, bool):
        raise ProtocolError("invalid_message", f"'{name}' must be true or false")
    return value


def parse_text_frame(text: str) -> Command:
    """One browser text frame as a command, or ProtocolError saying what is wrong."""
    if len(text) > MAX_TEXT_FRAME_BYTES or len(text.encode("utf-8", "surrogatepass")) > MAX_TEXT_FRAME_BYTES:
        raise ProtocolError("frame_too_large", f"text frames are limited to {MAX_TEXT_FRAME_BYTES} bytes")
    try:
        data = json.loads(text)
    except ValueError:
        raise ProtocolError("invalid_json", "text frames must be JSON objects") from None
    if not isinstance(data, dict):
        raise ProtocolError("invalid_json", "text frames must be JSON objects")
    kind = data.get("type")
    if not isinstance(kind, str):
        raise ProtocolError("invalid_message", "the frame needs a string 'type'")
    if kind not in _FIELDS:
        raise ProtocolError(
            "unknown_type", f"unknown frame type {kind[:40]!r}; expected one of {', '.join(_FIELDS)}"
        )
    required, optional = _FIELDS[kind]
    keys = set(data) - {"type"}
    missing = sorted(required - keys)
    if missing:
        raise ProtocolError("invalid_message", f"'{kind}' needs the field '{missing[0]}'")
    unknown = sorted(keys - required - optional)
    if unknown:
        raise ProtocolError("invalid_message", f"'{kind}' has no field {unknown[0][:40]!r}")
    if kind == "text":
        value = data["text"]
        if not isinstance(value, str) or not value.strip():
            raise ProtocolError("invalid_message", "'text' must be a non-empty string")
        return TextCommand(text=value)
    if kind == "playback":
        index = data.get("content_index", 0)
        if isinstance(index, bool) or not isinstance(index, int) or index < 0:
            raise ProtocolError("invalid_message", "'content_index' must be a non-negative integer")
        ms = data["ms"]
        if isinstance(ms, bool) or not isinstance(ms, (int, float)) or not math.isfinite(ms) or ms < 0:
            raise ProtocolError("invalid_message", "'ms' must be a finite, non-negative number")
        return PlaybackCommand(item_id=_identifier(data, "item_id"), content_index=index, ms=float(ms))
    if kind == "approval":
        approve = data["approve"]
        if not isinstance(approve, bool):
            raise ProtocolError("invalid_message", "'approve' must be true or false")
        return ApprovalCommand(
            call_id=_identifier(data, "call_id"), approve=approve, always=_flag(data, "always", False)
        )
    if kind == "interrupt":
        return InterruptCommand()
    if kind == "commit":
        return CommitCommand()
    return EndCommand()


def check_audio_frame(data: bytes) -> None:
    """Refuse a binary frame that is not PCM16 mono audio of at most one second."""
    size = len(data)
    if size == 0:
        raise ProtocolError("invalid_audio", "empty audio frame")
    if size > MAX_AUDIO_FRAME_BYTES:
        raise ProtocolError(
            "frame_too_large", f"audio frames are limited to 1 s ({MAX_AUDIO_FRAME_BYTES} bytes)"
        )
    if size % 2:
        raise ProtocolError("invalid_audio", "PCM16 audio needs an even number of bytes")


class AudioRateLimiter:
    """Token bucket in ms of audio: sustained input up to `rate` x real time, plus a burst allowance."""

    def __init__(self, *, burst_ms: float = 3000.0, rate: float = 1.5, now: float = 0.0) -> None:
        if burst_ms <= 0 or rate <= 0:
            raise ValueError("burst_ms and rate must be positive")
        self.burst_ms = burst_ms
        self.rate = rate
        self._tokens = burst_ms
        self._last = now

    def allow(self, n_bytes: int, now: float) -> bool:
        """Take n_bytes of audio at monotonic time `now` (seconds); False means it came too fast."""
        elapsed = max(0.0, now - self._last)
        self._last = now
        self._tokens = min(self.burst_ms, self._tokens + elapsed * 1000.0 * self.rate)
        cost = n_bytes / BYTES_PER_MS
        if cost > self._tokens:
            return False
        self._tokens -= cost
        return True


def report_playback(tracker: PlaybackTracker, command: PlaybackCommand) -> None:
    """Feed an absolute played position to the engine's tracker, which counts increments."""
    state = tracker.get_state()
    same = (
        state.current_item_id == command.item_id and state.current_item_content_index == command.content_index
    )
    if not same or state.elapsed_ms is None:
        tracker.on_play_ms(command.item_id, command.content_index, command.ms)
        return
    delta = command.ms - state.elapsed_ms
    # Reports can arrive out of order; an older position says nothing new.
    if delta > 0:
        tracker.on_play_ms(command.item_id, command.content_index, delta)
