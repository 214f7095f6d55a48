"""Server frames for the browser: session events to JSON text, transcript deltas joined, errors worded for users."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

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

# The model's transcript deltas of one item are joined into at most one frame per interval: a JSON
# frame per delta cost as much as the audio frame it came with, and no reader sees 200 ms.
TRANSCRIPT_INTERVAL_S = 0.2


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
