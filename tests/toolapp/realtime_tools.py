"""Tools and a guardrail check registered by decorator; discovered through autodiscovery."""

from __future__ import annotations

import asyncio

import realtime_agents

DISCOVERED = True


@realtime_agents.tool
def toolapp_echo(text: str, times: int = 1) -> str:
    """Repeat a text.

    Args:
        text: What to repeat.
        times: How many times.
    """
    return " ".join([text] * times)


@realtime_agents.tool(name="toolapp_slow", timeout=3.0, needs_approval=True, starts_response=False)
async def slow_tool(seconds: float) -> str:
    """Wait, then answer."""
    await asyncio.sleep(seconds)
    return "done"


@realtime_agents.guardrail_check
def toolapp_no_banana(text: str) -> bool:
    """Trips when the text mentions bananas."""
    return "banana" in text.lower()
