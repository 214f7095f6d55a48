"""The app's database models, re-exported from their modules."""

from __future__ import annotations

from .agents import Agent, Handoff
from .channels import Channel
from .tools import Guardrail, Tool

__all__ = ["Agent", "Channel", "Guardrail", "Handoff", "Tool"]
