"""One user turn's recognition: the session's hints, Whisper in a worker thread, the router's pick."""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .asr import RATE, Recognizer
from .brain import Brain
from .lexicon import tool_vocabulary
from .router import Router
from .tts import resample

logger = logging.getLogger("realtime_agents.engine.offline.recognition")

# Renderings of a turn for a second hearing: 8 % slower and 8 % faster. Whisper base's slips on a
# voice are often quirks of that pitch and pace ("at Shannon" for "at seven"); a resample shifts both.
TEMPO_FACTORS = (1.08, 1 / 1.08)


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
    reading it cannot (see `Router.actionable_reading`). When it can act on none, the turn is heard
    again: first slightly slower and slightly faster, acting only when both renderings lead to the
    same call (one distorted rendering alone is weak evidence), then over Whisper's standard 30 s
    window (slower, and often right where the short one was not). A language model gets Whisper's
    best reading of the first decode.
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
    if chosen is None:
        chosen = await _tempo_agreement(recognizer, brain, tools, pcm16k, language, prompt)
        # Only an agreed reading joins the turn's readings: a distorted rendering alone is no evidence.
        readings += (chosen,) if chosen is not None and chosen not in readings else ()
    # A recognizer already decoding over the full window would only hear the same again.
    if chosen is None and recognizer.window_padding_s is not None:
        again = await _look_again(recognizer, pcm16k, language, prompt, full_window=True)
        more = tuple(r for r in again if r not in readings)
        chosen = brain.actionable_reading(more, tools)
        readings += more
    return HeardTurn(text=chosen or heard.text, readings=readings)


async def _tempo_agreement(recognizer: Recognizer, brain: Router, tools: tuple[dict[str, Any], ...],
                           pcm16k: bytes, language: str | None, prompt: str | None) -> str | None:
    """The slower rendering's actionable reading when every tempo rendering leads to the same call."""
    picks: list[str] = []
    for factor in TEMPO_FACTORS:
        look = await _look_again(recognizer, stretch(pcm16k, factor), language, prompt)
        pick = brain.actionable_reading(look, tools)
        if pick is None:
            return None
        picks.append(pick)
    calls = {brain.route(pick, tools).calls for pick in picks}
    return picks[0] if len(calls) == 1 else None


async def _look_again(recognizer: Recognizer, pcm16k: bytes, language: str | None, prompt: str | None,
                      *, full_window: bool = False) -> tuple[str, ...]:
    """Another decode's readings, likeliest first (none if it failed: the first reading stands)."""
    try:
        again = await asyncio.to_thread(recognizer.transcribe, pcm16k, language=language, prompt=prompt,
                                        full_window=full_window)
    except Exception as exc:  # noqa: BLE001 - the first reading stands
        logger.warning("offline recognition (another look at the turn) failed", exc_info=exc)
        return ()
    return tuple(r for r in (again.text, *again.alternatives) if r)


def stretch(pcm16k: bytes, factor: float) -> bytes:
    """The audio played `factor` times as long (slower and lower, as a tape would), still at 16 kHz."""
    return resample(pcm16k, RATE, round(RATE * factor))


__all__ = ["TEMPO_FACTORS", "HeardTurn", "recognise_turn", "recognition_hints", "session_tools", "stretch"]
