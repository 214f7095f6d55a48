"""The app's database models, re-exported from their modules."""

from __future__ import annotations

from .agents import Agent, Handoff
from .channels import Channel
from .conversations import Conversation, ConversationEvent, ToolRun, TranscriptItem
from .tools import Guardrail, Tool

__all__ = [
    "Agent",
    "Channel",
    "Conversation",
    "ConversationEvent",
    "Guardrail",
    "Handoff",
    "Tool",
    "ToolRun",
    "TranscriptItem",
]
