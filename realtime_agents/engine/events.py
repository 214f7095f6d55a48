"""Session events: what `async for event in session` yields, one frozen dataclass per type."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Union

from .items import HistoryItem

if TYPE_CHECKING:
    from .agent import AgentSpec
    from .guardrails import GuardrailResult
    from .tools import FunctionTool


@dataclass(frozen=True, kw_only=True)
class AgentStartEvent:
    """A response began; `agent` is the agent answering."""

    agent: AgentSpec
    response_id: str | None = None
    type: Literal["agent_start"] = "agent_start"


@dataclass(frozen=True, kw_only=True)
class AgentEndEvent:
    """A response ended; `agent` is the agent that started it, even after a handoff mid-turn."""

    agent: AgentSpec
    response_id: str | None = None
    status: str | None = None
    type: Literal["agent_end"] = "agent_end"


@dataclass(frozen=True, kw_only=True)
class HandoffEvent:
    """The session switched agents."""

    from_agent: AgentSpec
    to_agent: AgentSpec
    call_id: str | None = None
    type: Literal["handoff"] = "handoff"


@dataclass(frozen=True, kw_only=True)
class ToolStartEvent:
    """A function tool is about to run."""

    agent: AgentSpec
    tool: FunctionTool
    call_id: str
    arguments: str
    type: Literal["tool_start"] = "tool_start"


ToolStatus = Literal["ok", "error", "timeout", "rejected", "invalid_arguments", "not_found"]


@dataclass(frozen=True, kw_only=True)
class ToolEndEvent:
    """A tool's output was sent to the model; `output` is the value the tool returned."""

    agent: AgentSpec
    tool: FunctionTool | None
    tool_name: str
    call_id: str
    arguments: str
    output: Any
    status: ToolStatus = "ok"
    duration_s: float = 0.0
    approval: Literal["approved", "rejected"] | None = None
    type: Literal["tool_end"] = "tool_end"


@dataclass(frozen=True, kw_only=True)
class ToolApprovalRequiredEvent:
    """A tool call waits for `approve_tool_call` or `reject_tool_call`."""

    agent: AgentSpec
    tool: FunctionTool
    call_id: str
    arguments: str
    type: Literal["tool_approval_required"] = "tool_approval_required"


@dataclass(frozen=True, kw_only=True, slots=True)
class AudioEvent:
    """One chunk of model audio, in the session's output format, unchanged."""

    data: bytes
    item_id: str
    content_index: int = 0
    response_id: str | None = None
    type: Literal["audio"] = "audio"

    @property
    def audio(self) -> AudioEvent:
        """Seed compatibility: `event.audio.data` works as in the anchor SDK."""
        return self


@dataclass(frozen=True, kw_only=True)
class AudioEndEvent:
    """The model finished the audio of an item."""

    item_id: str
    content_index: int = 0
    type: Literal["audio_end"] = "audio_end"


@dataclass(frozen=True, kw_only=True)
class AudioInterruptedEvent:
    """Stop local playback now: the user barged in, `interrupt()` was called, or a guardrail tripped."""

    item_id: str
    content_index: int = 0
    audio_end_ms: int | None = None
    reason: Literal["speech", "interrupt", "guardrail"] = "speech"
    type: Literal["audio_interrupted"] = "audio_interrupted"


@dataclass(frozen=True, kw_only=True)
class ErrorEvent:
    """Something went wrong; the session goes on unless the iterator raises next."""

    error: dict[str, Any]
    type: Literal["error"] = "error"

    @property
    def code(self) -> str | None:
        """The error code, when there is one."""
        return self.error.get("code")

    @property
    def message(self) -> str:
        """A readable message."""
        return str(self.error.get("message", ""))


@dataclass(frozen=True, kw_only=True)
class HistoryAddedEvent:
    """A new item entered the history."""

    item: HistoryItem
    type: Literal["history_added"] = "history_added"


@dataclass(frozen=True, kw_only=True)
class HistoryUpdatedEvent:
    """An item changed or was removed; `history` is the whole ordered list."""

    history: tuple[HistoryItem, ...]
    item: HistoryItem | None = None
    type: Literal["history_updated"] = "history_updated"


@dataclass(frozen=True, kw_only=True)
class GuardrailTrippedEvent:
    """A guardrail tripped; for output the response was cut, for input the answer was replaced."""

    guardrail_results: tuple[GuardrailResult, ...]
    message: str
    kind: Literal["input", "output"] = "output"
    item_id: str | None = None
    response_id: str | None = None
    type: Literal["guardrail_tripped"] = "guardrail_tripped"

    @property
    def guardrail_names(self) -> tuple[str, ...]:
        """Names of the guardrails that tripped."""
        return tuple(r.name for r in self.guardrail_results if r.tripped)


@dataclass(frozen=True, kw_only=True)
class InputAudioTimeoutTriggeredEvent:
    """The server's idle timeout fired (no user speech for `idle_timeout_ms`)."""

    item_id: str | None = None
    type: Literal["input_audio_timeout_triggered"] = "input_audio_timeout_triggered"


@dataclass(frozen=True, kw_only=True, slots=True)
class TranscriptDeltaEvent:
    """A piece of live transcript, for the user's speech or the assistant's."""

    role: Literal["user", "assistant"]
    item_id: str
    delta: str
    response_id: str | None = None
    type: Literal["transcript_delta"] = "transcript_delta"


@dataclass(frozen=True, kw_only=True)
class TranscriptDoneEvent:
    """A final transcript for one item."""

    role: Literal["user", "assistant"]
    item_id: str
    transcript: str
    response_id: str | None = None
    type: Literal["transcript_done"] = "transcript_done"


@dataclass(frozen=True, kw_only=True)
class SpeechStartedEvent:
    """Server VAD heard the user start speaking."""

    item_id: str | None = None
    audio_start_ms: int | None = None
    type: Literal["speech_started"] = "speech_started"


@dataclass(frozen=True, kw_only=True)
class SpeechStoppedEvent:
    """Server VAD heard the user stop speaking."""

    item_id: str | None = None
    audio_end_ms: int | None = None
    type: Literal["speech_stopped"] = "speech_stopped"


@dataclass(frozen=True, kw_only=True)
class ReconnectEvent:
    """The upstream connection dropped; `status` says whether it is back."""

    status: Literal["reconnecting", "reconnected", "failed"]
    attempt: int
    delay_s: float = 0.0
    reason: str | None = None
    type: Literal["reconnect"] = "reconnect"


@dataclass(frozen=True, kw_only=True)
class UsageEvent:
    """Usage of one response (from `response.done`)."""

    response_id: str | None
    usage: dict[str, Any] = field(default_factory=dict)
    type: Literal["usage"] = "usage"


@dataclass(frozen=True, kw_only=True)
class RawModelEvent:
    """A transport event passed through unchanged (every server event, for debugging)."""

    data: Any
    type: Literal["raw_model_event"] = "raw_model_event"


SessionEvent = Union[
    AgentStartEvent,
    AgentEndEvent,
    HandoffEvent,
    ToolStartEvent,
    ToolEndEvent,
    ToolApprovalRequiredEvent,
    AudioEvent,
    AudioEndEvent,
    AudioInterruptedEvent,
    ErrorEvent,
    HistoryAddedEvent,
    HistoryUpdatedEvent,
    GuardrailTrippedEvent,
    InputAudioTimeoutTriggeredEvent,
    TranscriptDeltaEvent,
    TranscriptDoneEvent,
    SpeechStartedEvent,
    SpeechStoppedEvent,
    ReconnectEvent,
    UsageEvent,
    RawModelEvent,
]
