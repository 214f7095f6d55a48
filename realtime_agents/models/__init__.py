"""The app's database models, re-exported from their modules."""

from __future__ import annotations

from .agents import Agent, Handoff
from .analytics import ConversationAnalytics
from .api_tokens import ApiToken
from .channels import Channel
from .conversations import Conversation, ConversationEvent, ToolRun, TranscriptItem
from .tools import Guardrail, Tool

__all__ = [
    "Agent",
    "ApiToken",
    "Channel",
    "Conversation",
    "ConversationAnalytics",
    "ConversationEvent",
    "Guardrail",
    "Handoff",
    "Tool",
    "ToolRun",
    "TranscriptItem",
]
