"""A fake OpenAI Realtime (GA) server and test audio, shipped for the engine's and users' tests."""
from __future__ import annotations

from .audio import bytes_per_ms, silence, tone
from .connection import FakeConnection
from .script import FunctionCall, ScriptedError, ScriptedResponse
from .server import FakeRealtimeServer
from .validation import ValidationIssue

__all__ = [
    "FakeConnection",
    "FakeRealtimeServer",
    "FunctionCall",
    "ScriptedError",
    "ScriptedResponse",
    "ValidationIssue",
    "bytes_per_ms",
    "silence",
    "tone",
]
