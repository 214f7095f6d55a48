"""The realtime session engine: pure asyncio, no Django.

The seed documents' names are re-exported so code written against them runs with only the import
path changed: `RealtimeAgent`, `RealtimeRunner`, `RealtimeSession`, `realtime_handoff`, `function_tool`.
"""
from __future__ import annotations

from .agent import AgentSpec, RunContext
from .config import ConfigError, ModelConfig, ModelSettings, RunConfig
from .events import (
    AgentEndEvent,
    AgentStartEvent,
    AudioEndEvent,
    AudioEvent,
    AudioInterruptedEvent,
    ErrorEvent,
    GuardrailTrippedEvent,
    HandoffEvent,
    HistoryAddedEvent,
    HistoryUpdatedEvent,
    InputAudioTimeoutTriggeredEvent,
    RawModelEvent,
    ReconnectEvent,
    SessionEvent,
    SpeechStartedEvent,
    SpeechStoppedEvent,
    ToolApprovalRequiredEvent,
    ToolEndEvent,
    ToolStartEvent,
    TranscriptDeltaEvent,
    TranscriptDoneEvent,
    UsageEvent,
)
from .guardrails import (
    GuardrailFunctionOutput,
    GuardrailResult,
    InputGuardrail,
    OutputGuardrail,
    input_guardrail,
    output_guardrail,
)
from .handoffs import Handoff, realtime_handoff
from .items import HistoryItem, MessageItem, ToolCallItem
from .model import Model, ModelListener, TransportError
from .inputs import UserInputImage, UserInputMessage, UserInputText
from .openai_realtime import OpenAIRealtimeModel, OpenAIRealtimeSIPModel
from .playback import PlaybackTracker
from .runner import Runner
from .session import Session, SessionError
from .tools import FunctionTool, ToolArgumentsError, ToolContext, function_tool
from .usage import Usage

# Seed-compatible aliases.
RealtimeAgent = AgentSpec
RealtimeRunner = Runner
RealtimeSession = Session
RealtimePlaybackTracker = PlaybackTracker
OpenAIRealtimeWebSocketModel = OpenAIRealtimeModel
RealtimeModel = Model
RealtimeUserInputMessage = UserInputMessage

__all__ = [
    "AgentEndEvent", "AgentSpec", "AgentStartEvent", "AudioEndEvent", "AudioEvent", "AudioInterruptedEvent",
    "ConfigError", "ErrorEvent", "FunctionTool", "GuardrailFunctionOutput", "GuardrailResult",
    "GuardrailTrippedEvent", "Handoff", "HandoffEvent", "HistoryAddedEvent", "HistoryItem",
    "HistoryUpdatedEvent", "InputAudioTimeoutTriggeredEvent", "InputGuardrail", "MessageItem", "Model",
    "ModelConfig", "ModelListener", "ModelSettings", "OpenAIRealtimeModel", "OpenAIRealtimeSIPModel",
    "OpenAIRealtimeWebSocketModel", "OutputGuardrail", "PlaybackTracker", "RawModelEvent", "RealtimeAgent",
    "RealtimeModel", "RealtimePlaybackTracker", "RealtimeRunner", "RealtimeSession",
    "RealtimeUserInputMessage", "ReconnectEvent", "RunConfig", "RunContext", "Runner", "Session",
    "SessionError", "SessionEvent", "SpeechStartedEvent", "SpeechStoppedEvent", "ToolApprovalRequiredEvent",
    "ToolArgumentsError", "ToolCallItem", "ToolContext", "ToolEndEvent", "ToolStartEvent",
    "TranscriptDeltaEvent", "TranscriptDoneEvent", "TransportError", "Usage", "UsageEvent", "UserInputImage",
    "UserInputMessage", "UserInputText", "function_tool", "input_guardrail", "output_guardrail",
    "realtime_handoff",
]
