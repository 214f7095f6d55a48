"""Opening a Twilio call's engine session: μ-law both ways, the call tools on every agent, the greeting."""

from __future__ import annotations

import logging
from typing import Any

from channels.db import database_sync_to_async

from ..conf import app_settings
from ..consumers import GREETING
from ..engine import Runner
from ..models import Channel
from ..models.validation import nonblank_lines
from ..specs import LoadedChannel
from ..transports import TransportChoice
from .call_tools import CallControl, add_call_control_tools, call_control_tools

__all__ = ["TWILIO_AUDIO_FORMAT", "chunk_ms", "open_call_session", "twilio_model_settings"]

logger = logging.getLogger("realtime_agents.telephony.twilio_session")

TWILIO_AUDIO_FORMAT = "g711_ulaw"
CHUNK_MS_RANGE = (20, 40)


def chunk_ms() -> int:
    """TWILIO_CHUNK_MS, kept within 20–40 ms (a bad value must not fail every call)."""
    value = int(app_settings.TWILIO_CHUNK_MS)
    low, high = CHUNK_MS_RANGE
    if not low <= value <= high:
        logger.warning(
            "TWILIO_CHUNK_MS=%d is outside %d-%d ms; using %d", value, low, high, min(max(value, low), high)
        )
    return min(max(value, low), high)


def twilio_model_settings(loaded: LoadedChannel) -> dict[str, Any]:
    """The channel's model settings with G.711 μ-law 8 kHz both ways (Twilio's format; no transcoding)."""
    return {
        **loaded.model_settings,
        "input_audio_format": TWILIO_AUDIO_FORMAT,
        "output_audio_format": TWILIO_AUDIO_FORMAT,
    }


def _transfer_numbers(channel_id: int) -> list[str]:
    numbers = Channel.objects.filter(pk=channel_id).values_list("transfer_numbers", flat=True).first()
    return nonblank_lines(numbers or "")


async def open_call_session(loaded: LoadedChannel, choice: TransportChoice, control: CallControl) -> Any:
    """An entered session for `loaded` (settings already μ-law); it greets when the channel has a greeting.

    `aload_channel` builds fresh agent specs per call, so adding the call tools to them here
    touches no other call.
    """
    numbers = await database_sync_to_async(_transfer_numbers)(loaded.channel_id)
    add_call_control_tools(loaded.agents.values(), call_control_tools(control, transfer_numbers=numbers))
    runner = Runner(
        loaded.starting_agent, model=choice.model, config={"model_settings": dict(loaded.model_settings)}
    )
    session = await runner.run(model_config=choice.model_config)
    try:
        await session.enter()
        if loaded.greeting:
            # Per-response instructions replace the session's: keep the agent's own with the greeting.
            persona = await session.current_agent.get_system_prompt(session.run_context) or ""
            greeting = GREETING.format(greeting=loaded.greeting)
            await session.create_response(instructions=f"{persona}\n\n{greeting}".strip())
    except BaseException:
        await session.close()
        raise
    return session
