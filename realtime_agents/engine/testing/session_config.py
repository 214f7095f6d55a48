"""The fake server's GA session object: defaults and the merge rules of ``session.update``."""
from __future__ import annotations

import copy
import time
from typing import Any

from .audio import FORMAT_TYPES, PCM, PCM_RATE
from .protocol import ProtocolError

VOICES = frozenset({"alloy", "ash", "ballad", "coral", "echo", "sage", "shimmer", "verse", "marin", "cedar"})
SESSION_KEYS = frozenset(
    {
        "type", "audio", "include", "instructions", "max_output_tokens", "model", "output_modalities",
        "parallel_tool_calls", "prompt", "reasoning", "tool_choice", "tools", "tracing", "truncation",
    }
)
AUDIO_KEYS = frozenset({"input", "output"})
AUDIO_INPUT_KEYS = frozenset({"format", "noise_reduction", "transcription", "turn_detection"})
AUDIO_OUTPUT_KEYS = frozenset({"format", "speed", "voice"})
SERVER_VAD_DEFAULTS: dict[str, Any] = {
    "type": "server_vad", "threshold": 0.5, "prefix_padding_ms": 300, "silence_duration_ms": 200,
    "idle_timeout_ms": None, "create_response": True, "interrupt_response": True,
}
SEMANTIC_VAD_DEFAULTS: dict[str, Any] = {
    "type": "semantic_vad", "eagerness": "auto", "create_response": True, "interrupt_response": True,
}
# The energy VAD stands in for semantic VAD with a silence window per eagerness.
SEMANTIC_SILENCE_MS = {"low": 1000, "medium": 500, "auto": 500, "high": 250}
DEFAULT_INSTRUCTIONS = (
    "You are a helpful, witty, and friendly AI. Act like a human, but remember that you aren't a human. "
    "Your voice and personality should be warm and engaging."
)
SESSION_TTL_S = 3600


def default_session(*, session_id: str, model: str) -> dict[str, Any]:
    """The effective session a new connection starts with, as sent in ``session.created``."""
    return {
        "type": "realtime",
        "object": "realtime.session",
        "id": session_id,
        "model": model,
        "output_modalities": ["audio"],
        "instructions": DEFAULT_INSTRUCTIONS,
        "tools": [],
        "tool_choice": "auto",
        "max_output_tokens": "inf",
        "tracing": None,
        "truncation": "auto",
        "prompt": None,
        "include": None,
        "expires_at": int(time.time()) + SESSION_TTL_S,
        "audio": {
            "input": {
                "format": {"type": PCM, "rate": PCM_RATE},
                "transcription": None,
                "noise_reduction": None,
                "turn_detection": dict(SERVER_VAD_DEFAULTS),
            },
            "output": {"format": {"type": PCM, "rate": PCM_RATE}, "voice": "alloy", "speed": 1.0},
        },
    }


def _invalid(param: str, message: str) -> ProtocolError:
    return ProtocolError("invalid_value", message, param=param)


def _require_object(value: Any, param: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ProtocolError("invalid_type", f"'{param}' must be an object", param=param)
    return value


def _reject_unknown(value: dict[str, Any], allowed: frozenset[str], param: str) -> None:
    for key in value:
        if key not in allowed:
            raise ProtocolError("unknown_parameter", f"Unknown parameter: '{param}.{key}'.", param=f"{param}.{key}")


def _audio_format(value: Any, param: str) -> dict[str, Any]:
    value = _require_object(value, param)
    kind = value.get("type")
    if kind not in FORMAT_TYPES:
        raise _invalid(f"{param}.type", f"Invalid audio format type {kind!r}; expected one of {sorted(FORMAT_TYPES)}")
    if kind == PCM:
        if value.get("rate", PCM_RATE) != PCM_RATE:
            raise _invalid(f"{param}.rate", "audio/pcm supports only rate 24000")
        return {"type": PCM, "rate": PCM_RATE}
    _reject_unknown(value, frozenset({"type"}), param)
    return {"type": kind}


def _turn_detection(value: Any, param: str) -> dict[str, Any] | None:
    if value is None:
        return None
    value = _require_object(value, param)
    defaults = {"server_vad": SERVER_VAD_DEFAULTS, "semantic_vad": SEMANTIC_VAD_DEFAULTS}.get(value.get("type"))
    if defaults is None:
        raise _invalid(f"{param}.type", f"Invalid turn detection type {value.get('type')!r}")
    _reject_unknown(value, frozenset(defaults), param)
    merged = {**defaults, **value}
    if merged["type"] == "server_vad":
        if not isinstance(merged["threshold"], (int, float)) or not 0 <= merged["threshold"] <= 1:
            raise _invalid(f"{param}.threshold", "threshold must be a number between 0 and 1")
        for key in ("silence_duration_ms", "prefix_padding_ms"):
            if not isinstance(merged[key], int) or merged[key] < 0:
                raise _invalid(f"{param}.{key}", f"{key} must be a non-negative integer")
    elif merged["eagerness"] not in SEMANTIC_SILENCE_MS:
        raise _invalid(f"{param}.eagerness", "eagerness must be low, medium, high or auto")
    return merged


def _merge_input(current: dict[str, Any], update: Any) -> None:
    update = _require_object(update, "session.audio.input")
    _reject_unknown(update, AUDIO_INPUT_KEYS, "session.audio.input")
    if "format" in update:
        current["format"] = _audio_format(update["format"], "session.audio.input.format")
    if "turn_detection" in update:
        current["turn_detection"] = _turn_detection(update["turn_detection"], "session.audio.input.turn_detection")
    if "transcription" in update:
        transcription = update["transcription"]
        param = "session.audio.input.transcription"
        if transcription is not None and not isinstance(_require_object(transcription, param).get("model", ""), str):
            raise _invalid("session.audio.input.transcription.model", "transcription model must be a string")
        current["transcription"] = copy.deepcopy(transcription)
    if "noise_reduction" in update:
        current["noise_reduction"] = copy.deepcopy(update["noise_reduction"])


def _merge_output(current: dict[str, Any], update: Any, *, voice_locked: bool) -> None:
    update = _require_object(update, "session.audio.output")
    _reject_unknown(update, AUDIO_OUTPUT_KEYS, "session.audio.output")
    if "format" in update:
        current["format"] = _audio_format(update["format"], "session.audio.output.format")
    if "speed" in update:
        speed = update["speed"]
        if not isinstance(speed, (int, float)) or not 0.25 <= speed <= 1.5:
            raise _invalid("session.audio.output.speed", "speed must be between 0.25 and 1.5")
        current["speed"] = speed
    if "voice" in update:
        voice = update["voice"]
        custom = isinstance(voice, dict) and isinstance(voice.get("id"), str)
        if not custom and voice not in VOICES:
            raise _invalid("session.audio.output.voice", f"Invalid voice {voice!r}; expected one of {sorted(VOICES)}")
        if voice_locked and voice != current.get("voice"):
            raise ProtocolError(
                "cannot_update_voice",
                "Cannot update a conversation's voice if assistant audio is present.",
                param="session.audio.output.voice",
            )
        current["voice"] = copy.deepcopy(voice)


def apply_session_update(
    current: dict[str, Any], update: Any, *, voice_locked: bool, model_locked: bool
) -> dict[str, Any]:
    """Return the session after applying ``update`` (only present fields change); raise ProtocolError."""
    update = _require_object(update, "session")
    if "type" not in update:
        raise ProtocolError(
            "missing_required_parameter", "Missing required parameter: 'session.type'.", param="session.type"
        )
    if update["type"] != current["type"]:
        raise _invalid("session.type", f"Cannot change the session type from {current['type']!r}")
    _reject_unknown(update, SESSION_KEYS, "session")
    result = copy.deepcopy(current)
    if "model" in update and update["model"] != current["model"] and model_locked:
        raise _invalid("session.model", "The session model cannot be changed")
    if "output_modalities" in update and update["output_modalities"] not in (["audio"], ["text"]):
        raise _invalid("session.output_modalities", "output_modalities must be ['audio'] or ['text']")
    max_tokens = update.get("max_output_tokens", "inf")
    if max_tokens != "inf" and (not isinstance(max_tokens, int) or not 1 <= max_tokens <= 4096):
        raise _invalid("session.max_output_tokens", "max_output_tokens must be 1-4096 or 'inf'")
    if "tools" in update:
        tools = update["tools"]
        if not isinstance(tools, list) or not all(isinstance(t, dict) and t.get("type") in ("function", "mcp")
                                                  for t in tools):
            raise _invalid("session.tools", "tools must be a list of function or mcp tool objects")
        for index, tool in enumerate(tools):
            if tool["type"] == "function" and not isinstance(tool.get("name"), str):
                raise ProtocolError(
                    "missing_required_parameter", "Function tools need a name", param=f"session.tools[{index}].name"
                )
    if "audio" in update:
        audio = _require_object(update["audio"], "session.audio")
        _reject_unknown(audio, AUDIO_KEYS, "session.audio")
        if "input" in audio:
            _merge_input(result["audio"]["input"], audio["input"])
        if "output" in audio:
            _merge_output(result["audio"]["output"], audio["output"], voice_locked=voice_locked)
    for key, value in update.items():
        if key != "audio":
            result[key] = copy.deepcopy(value)
    return result


def vad_settings(session: dict[str, Any]) -> tuple[float, int, int] | None:
    """Return (threshold, silence_duration_ms, prefix_padding_ms) for the session's VAD, or None when off."""
    detection = session["audio"]["input"]["turn_detection"]
    if detection is None:
        return None
    if detection["type"] == "semantic_vad":
        return 0.5, SEMANTIC_SILENCE_MS[detection["eagerness"]], 300
    return float(detection["threshold"]), int(detection["silence_duration_ms"]), int(detection["prefix_padding_ms"])
