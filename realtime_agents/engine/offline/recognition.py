"""One user turn's recognition: the session's hints, Whisper in a worker thread, the router's pick."""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .asr import Recognizer
from .brain import Brain
from .lexicon import tool_vocabulary
from .router import Router

logger = logging.getLogger("realtime_agents.engine.offline.recognition")


def recognition_hints(session: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """The session's transcription language, and its prompt or else the tools' vocabulary."""
    transcription = session["audio"]["input"]["transcription"]
    settings = transcription if isinstance(transcription, dict) else {}
    language, prompt = settings.get("language"), settings.get("prompt")
    if not isinstance(prompt, str) or not prompt.strip():
        prompt = tool_vocabulary(session_tools(session))
    return (language if isinstance(language, str) and language else None), (prompt or None)


def session_tools(session: Mapping[str, Any]) -> tuple[dict[str, Any], ...]:
    """The session's function tools (handoffs included), skipping malformed entries."""
    return tuple(t for t in session.get("tools") or () if isinstance(t, dict))


@dataclass(frozen=True, kw_only=True)
class HeardTurn:
    """What the user said, and every reading recognition offered for it (likeliest first)."""

    text: str
    readings: tuple[str, ...] = ()


async def recognise_turn(recognizer: Recognizer, session: Mapping[str, Any], brain: Brain | None,
                         pcm16k: bytes) -> HeardTurn:
    """What the user said in one turn (text "" when nothing intelligible, or recognition failed).

    With the router as the brain, a close runner-up reading the router can act on wins over a best
    reading it cannot (see `Router.actionable_reading`); when it can act on none, the turn is heard
    again over Whisper's standard 30 s window (slower, and often right where the short one was not).
    A language model gets Whisper's best reading of the first decode.
    """
    language, prompt = recognition_hints(session)
    try:
        heard = await asyncio.to_thread(recognizer.transcribe, pcm16k, language=language, prompt=prompt)
    except Exception as exc:  # noqa: BLE001 - a failed recognition loses this turn, not the session
        logger.warning("offline recognition failed", exc_info=exc)
        return HeardTurn(text="")
    readings = (heard.text, *heard.alternatives)
    if not heard.text or not isinstance(brain, Router):
        return HeardTurn(text=heard.text, readings=readings)
    tools = session_tools(session)
    chosen = brain.actionable_reading(readings, tools)
    # A recognizer already decoding over the full window would only hear the same again.
    if chosen is None and recognizer.window_padding_s is not None:
        try:
            again = await asyncio.to_thread(recognizer.transcribe, pcm16k, language=language, prompt=prompt,
                                            full_window=True)
        except Exception as exc:  # noqa: BLE001 - the first reading stands
            logger.warning("offline recognition (second look) failed", exc_info=exc)
        else:
            more = tuple(r for r in (again.text, *again.alternatives) if r and r not in readings)
            chosen = brain.actionable_reading(more, tools)
            readings += more
    return HeardTurn(text=chosen or heard.text, readings=readings)


__all__ = ["HeardTurn", "recognise_turn", "recognition_hints", "session_tools"]
