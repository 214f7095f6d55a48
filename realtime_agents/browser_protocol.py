"""The browser WebSocket protocol: validate incoming frames into commands, turn session events into frames."""

from __future__ import annotations

import json
import math
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Union

from .engine.events import (
    AgentEndEvent,
    AudioEvent,
    AudioInterruptedEvent,
    ErrorEvent,
    GuardrailTrippedEvent,
    HandoffEvent,
    ToolApprovalRequiredEvent,
    ToolEndEvent,
    ToolStartEvent,
    TranscriptDeltaEvent,
    TranscriptDoneEvent,
)
from .engine.playback import PlaybackTracker

# PCM16 mono 24 kHz little-endian: 2 bytes per sample, 48 bytes per ms.
SAMPLE_RATE = 24_000
BYTES_PER_MS = SAMPLE_RATE * 2 // 1000
MAX_TEXT_FRAME_BYTES = 64 * 1024
MAX_AUDIO_FRAME_BYTES = 1000 * BYTES_PER_MS
MAX_ID_LENGTH = 128
# The model's transcript deltas of one item are joined into at most one frame per interval: a JSON
# frame per delta cost as much as the audio frame it came with, and no reader sees 200 ms.
TRANSCRIPT_INTERVAL_S = 0.2


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


def encode(frame: Mapping[str, Any]) -> str:
    """A server frame as compact JSON text."""
    return json.dumps(frame, separators=(",", ":"), ensure_ascii=False)


_SAFE_CODE = re.compile(r"^[a-z0-9_.]{1,64}$")
# Engine error codes the browser may see, with our own words: engine messages can carry
# exception text (tool internals, URLs), which must not reach the page.
_ERROR_MESSAGES = {
    "tool_error": "A tool failed.",
    "tool_timeout": "A tool took too long to answer.",
    "tool_not_found": "The agent asked for a tool that does not exist.",
    "handoff_error": "Passing the conversation to another agent failed.",
    "transcription_failed": "Your speech could not be transcribed.",
    "connection_lost": "The connection to the model was lost.",
    "transport_error": "The connection to the model failed.",
    "internal_error": "Something went wrong on the server.",
    "invalid_server_event": "The model sent something the server could not handle.",
}


def ready_frame(*, conversation_id: str, agent: str, channel: str) -> str:
    """The first frame of every accepted session."""
    return encode({"type": "ready", "conversation_id": conversation_id, "agent": agent, "channel": channel})


def end_frame(reason: str) -> str:
    """The last frame before the server closes the socket."""
    return encode({"type": "session.end", "reason": reason})


def error_frame(code: str, message: str) -> str:
    """An `error` frame."""
    return encode({"type": "error", "code": code, "message": message})


def engine_error_frame(event: ErrorEvent) -> str:
    """An `error` frame for an engine error, with a fixed message and no upstream detail."""
    code = event.code if isinstance(event.code, str) else ""
    if code in _ERROR_MESSAGES:
        return error_frame(code, _ERROR_MESSAGES[code])
    shown = code if _SAFE_CODE.match(code) else "unknown"
    return error_frame("model_error", f"The model service reported an error ({shown}).")


class OutboundFrames:
    """Session events to browser frames; remembers the audio's item and the transcript text held back."""

    def __init__(self, *, show_tool_arguments: bool, clock: Callable[[], float] = time.monotonic) -> None:
        self.show_tool_arguments = show_tool_arguments
        self._clock = clock
        self._audio_key: tuple[str, int] | None = None
        self._text_key: tuple[str, str] | None = None  # (role, item_id) of the transcript text held back
        self._text: list[str] = []
        self._next_text_at = 0.0

    def audio_header(self, event: AudioEvent) -> str | None:
        """The `audio.item` frame to send before this chunk, only when the item changed."""
        key = (event.item_id, event.content_index)
        if key == self._audio_key:
            return None
        self._audio_key = key
        return encode({"type": "audio.item", "item_id": event.item_id, "content_index": event.content_index})

    def before_audio(self, event: AudioEvent) -> Sequence[str]:
        """Frames due before this chunk: transcript text held long enough, `audio.item` on a new item."""
        header = self.audio_header(event)
        if self._text and (header is not None or self._clock() >= self._next_text_at):
            text = self._release_text()
            return (text,) if header is None else (text, header)
        return () if header is None else (header,)

    def flush(self) -> list[str]:
        """Transcript text still held back (at the end of the session)."""
        return [self._release_text()] if self._text else []

    def frames(self, event: Any) -> list[str]:
        """JSON frames for a non-audio session event (none for events the browser does not see)."""
        if type(event) is TranscriptDeltaEvent:
            return self._delta(event)
        frames = self._frames(event)
        # Held-back text goes first: a `transcript.done` or `guardrail.tripped` must follow its deltas.
        return [self._release_text(), *frames] if frames and self._text else frames

    def _delta(self, event: TranscriptDeltaEvent) -> list[str]:
        # The first delta of an item goes at once; later ones wait until the interval has passed.
        key = (event.role, event.item_id)
        frames = []
        if key != self._text_key:
            if self._text:
                frames.append(self._release_text())
            self._text_key, self._next_text_at = key, 0.0
        self._text.append(event.delta)
        now = self._clock()
        if now >= self._next_text_at:
            frames.append(self._release_text(now))
        return frames

    def _release_text(self, now: float | None = None) -> str:
        assert self._text_key is not None
        role, item_id = self._text_key
        text, self._text = "".join(self._text), []
        self._next_text_at = (self._clock() if now is None else now) + TRANSCRIPT_INTERVAL_S
        return encode({"type": "transcript.delta", "role": role, "item_id": item_id, "text": text})

    def _frames(self, event: Any) -> list[str]:
        kind = type(event)
        if kind is TranscriptDoneEvent:
            return [
                encode(
                    {
                        "type": "transcript.done",
                        "role": event.role,
                        "item_id": event.item_id,
                        "text": event.transcript,
                    }
                )
            ]
        if kind is AgentEndEvent:
            return [encode({"type": "turn.end", "agent": event.agent.name, "status": event.status})]
        if kind is AudioInterruptedEvent:
            # Audio after an interruption is announced again, even for the same item.
            self._audio_key = None
            return [
                encode(
                    {
                        "type": "audio.interrupted",
                        "item_id": event.item_id,
                        "content_index": event.content_index,
                        "audio_end_ms": event.audio_end_ms,
                        "reason": event.reason,
                    }
                )
            ]
        if kind is HandoffEvent:
            return [
                encode(
                    {"type": "agent.changed", "agent": event.to_agent.name, "previous": event.from_agent.name}
                )
            ]
        if kind is ToolStartEvent:
            return [self._tool("tool.started", event.tool.name, event.call_id, event.arguments)]
        if kind is ToolEndEvent:
            return [
                self._tool("tool.ended", event.tool_name, event.call_id, event.arguments, status=event.status)
            ]
        if kind is ToolApprovalRequiredEvent:
            return [self._tool("approval.required", event.tool.name, event.call_id, event.arguments)]
        if kind is GuardrailTrippedEvent:
            return [encode({"type": "guardrail.tripped", "kind": event.kind, "item_id": event.item_id})]
        if kind is ErrorEvent:
            return [engine_error_frame(event)]
        return []

    def _tool(self, frame_type: str, name: str, call_id: str, arguments: str, **extra: Any) -> str:
        frame: dict[str, Any] = {"type": frame_type, "call_id": call_id, "name": name, **extra}
        if self.show_tool_arguments:
            frame["arguments"] = _arguments(arguments)
        return encode(frame)


def _arguments(arguments: str) -> Any:
    """Tool arguments as JSON when they parse (the model's raw string otherwise)."""
    try:
        return json.loads(arguments)
    except ValueError:
        return arguments
