"""Scripted behaviour for the fake Realtime server: what a response says, calls, or fails with."""
from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

# Roughly 15 spoken characters per second, so "Hi there!" lasts about 600 ms.
MS_PER_CHARACTER = 65
MIN_AUDIO_MS = 200


@dataclass(frozen=True, kw_only=True)
class FunctionCall:
    """A function call the scripted model makes."""

    name: str
    arguments: Mapping[str, Any] | str = field(default_factory=dict)
    call_id: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ValueError("FunctionCall.name must be a non-empty string")
        if not isinstance(self.arguments, (str, Mapping)):
            raise TypeError("FunctionCall.arguments must be a mapping or a JSON string")

    def arguments_json(self) -> str:
        """Return the arguments as the JSON string sent on the wire (a str is sent verbatim)."""
        if isinstance(self.arguments, str):
            return self.arguments
        return json.dumps(dict(self.arguments), separators=(",", ":"))


@dataclass(frozen=True, kw_only=True)
class ScriptedError:
    """An ``error`` event sent instead of a response."""

    code: str
    message: str
    type: str = "server_error"
    param: str | None = None


@dataclass(frozen=True, kw_only=True)
class ScriptedResponse:
    """One model response: a spoken transcript or a text answer, then optional function calls."""

    transcript: str | None = None  # spoken: output_audio + transcript events (text when the session is text-only)
    text: str | None = None  # always output_text events
    audio_ms: int | None = None  # None: derived from the transcript length
    function_calls: Sequence[FunctionCall] = ()
    pace: float = 0.0  # multiple of real time for audio streaming; 0 = as fast as possible, 1.0 = real time
    delay_ms: int = 0  # the model's thinking time after response.created
    chunk_ms: int = 50  # audio per response.output_audio.delta
    error: ScriptedError | None = None  # sent instead of the response
    status: Literal["completed", "incomplete", "failed"] = "completed"

    def __post_init__(self) -> None:
        object.__setattr__(self, "function_calls", tuple(self.function_calls))
        if self.transcript is not None and self.text is not None:
            raise ValueError("give a ScriptedResponse either transcript (audio) or text, not both")
        if not all(isinstance(call, FunctionCall) for call in self.function_calls):
            raise TypeError("ScriptedResponse.function_calls must hold FunctionCall objects")
        if self.pace < 0:
            raise ValueError("ScriptedResponse.pace must be >= 0 (0 = as fast as possible)")
        if self.delay_ms < 0:
            raise ValueError("ScriptedResponse.delay_ms must be >= 0")
        if self.chunk_ms <= 0:
            raise ValueError("ScriptedResponse.chunk_ms must be > 0")
        if self.audio_ms is not None and self.audio_ms < 0:
            raise ValueError("ScriptedResponse.audio_ms must be >= 0")
        if self.status not in ("completed", "incomplete", "failed"):
            raise ValueError("ScriptedResponse.status must be completed, incomplete or failed")

    @property
    def has_message(self) -> bool:
        """Whether the response contains an assistant message (a bare response always does)."""
        return self.transcript is not None or self.text is not None or not self.function_calls

    def message_text(self) -> str:
        """The words of the assistant message, whichever modality carries them."""
        return self.text if self.text is not None else (self.transcript or "")

    def effective_audio_ms(self) -> int:
        """Audio length in ms: explicit, or derived from the transcript length."""
        if self.audio_ms is not None:
            return self.audio_ms
        return max(MIN_AUDIO_MS, MS_PER_CHARACTER * len(self.message_text()))


DEFAULT_RESPONSE = ScriptedResponse(transcript="Okay.")
