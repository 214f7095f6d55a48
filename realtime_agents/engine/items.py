"""Conversation history items: user, assistant and system messages, and tool calls."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Union


@dataclass(frozen=True, kw_only=True)
class InputText:
    """Typed user (or system) text."""

    text: str
    type: Literal["input_text"] = "input_text"


@dataclass(frozen=True, kw_only=True)
class InputAudio:
    """User speech; the transcript arrives later from input transcription."""

    transcript: str | None = None
    type: Literal["input_audio"] = "input_audio"


@dataclass(frozen=True, kw_only=True)
class InputImage:
    """A user image, as a data URL."""

    image_url: str
    detail: str | None = None
    type: Literal["input_image"] = "input_image"


@dataclass(frozen=True, kw_only=True)
class AssistantText:
    """Assistant text output."""

    text: str
    type: Literal["text"] = "text"


@dataclass(frozen=True, kw_only=True)
class AssistantAudio:
    """Assistant speech; audio bytes are not kept in history, only the transcript."""

    transcript: str | None = None
    type: Literal["audio"] = "audio"


UserContent = Union[InputText, InputAudio, InputImage]
AssistantContent = Union[AssistantText, AssistantAudio]
ItemStatus = Literal["in_progress", "completed", "incomplete", "truncated", "interrupted"]


@dataclass(frozen=True, kw_only=True)
class MessageItem:
    """A message in the conversation, ordered after `previous_item_id`."""

    item_id: str
    role: Literal["user", "assistant", "system"]
    content: tuple[UserContent | AssistantContent, ...] = ()
    previous_item_id: str | None = None
    status: ItemStatus | None = None
    agent_name: str | None = None
    audio_ms: float = 0.0
    type: Literal["message"] = "message"

    @property
    def text(self) -> str:
        """The item's readable text: typed text and transcripts joined."""
        parts: list[str] = []
        for part in self.content:
            value = getattr(part, "text", None) or getattr(part, "transcript", None)
            if value:
                parts.append(value)
        return " ".join(parts)


@dataclass(frozen=True, kw_only=True)
class ToolCallItem:
    """A function call and, once sent, its output (one item, as in the anchor SDK)."""

    item_id: str
    call_id: str
    name: str
    arguments: str = ""
    output: str | None = None
    previous_item_id: str | None = None
    status: Literal["in_progress", "completed"] = "in_progress"
    agent_name: str | None = None
    type: Literal["function_call"] = "function_call"

    @property
    def text(self) -> str:
        """Tool calls have no spoken text."""
        return ""


HistoryItem = Union[MessageItem, ToolCallItem]
